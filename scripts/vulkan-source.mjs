// The llama.cpp source a Vulkan build compiles: a view of deps/llama.cpp (symlinks) whose ggml-vulkan
// folder is a copy with two adaptations for older toolchains such as Debian 12's, each behind a
// check of what the toolchain has, so a newer toolchain compiles exactly the pinned code:
//  - glslc without GL_KHR_cooperative_matrix (shaderc 2023.2): the pinned release compiles its
//    Intel Xe flash-attention decode shaders (cooperative matrices) whatever glslc supports, while
//    every other cooperative-matrix shader is behind GGML_VULKAN_COOPMAT_GLSLC_SUPPORT. Those two go
//    behind the same define, and without it that Intel-only path is unused (ggml's generic flash
//    attention runs there instead).
//  - Vulkan headers without VK_EXT_layer_settings (1.3.239): the instance is created without the
//    layer-settings chain, which only the validation build (GGML_VULKAN_VALIDATE) uses.
// deps/llama.cpp itself is never modified.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Whether `glslc` compiles a shader that uses GL_KHR_cooperative_matrix. */
export function glslcHasCoopmat(glslc = 'glslc') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-glslc-'));
  const src = path.join(dir, 't.comp');
  fs.writeFileSync(src, '#version 460\n#extension GL_KHR_cooperative_matrix : require\nvoid main() {}\n');
  try {
    execFileSync(glslc, ['-fshader-stage=compute', '--target-env=vulkan1.3', src, '-o', path.join(dir, 't.spv')], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Each edit must find its text exactly once: a newer llama.cpp that changed it fails loudly here.
function edit(file, from, to) {
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`vulkan-source: the text to adapt is not in ${file} exactly once`);
  fs.writeFileSync(file, text.slice(0, at) + to + text.slice(at + from.length));
}

const GUARD = 'GGML_VULKAN_COOPMAT_GLSLC_SUPPORT';

function adapt(vkDir) {
  const gen = path.join(vkDir, 'vulkan-shaders', 'vulkan-shaders-gen.cpp');
  const decode = '    string_to_spv("fa_decode_ph1", "flash_attn_decode_phase_1.comp", {}, true, true, false, false);\n' +
    '    string_to_spv("fa_decode_ph2", "flash_attn_decode_phase_2.comp", {}, true, true, false, false);\n';
  edit(gen, decode, `#if defined(${GUARD})\n${decode}#endif\n`);

  const vk = path.join(vkDir, 'ggml-vulkan.cpp');
  const loop = '        for (auto& it : device->pipeline_xe_fa_decode_dual_phases) {';
  const text = fs.readFileSync(vk, 'utf8');
  const start = text.indexOf(loop);
  const end = start < 0 ? -1 : text.indexOf('\n        }\n', start);
  if (start < 0 || end < 0) throw new Error(`vulkan-source: the Xe decode pipelines are not in ${vk}`);
  fs.writeFileSync(vk, `${text.slice(0, start)}#if defined(${GUARD})\n${text.slice(start, end + 10)}\n#endif\n${text.slice(end + 10)}`);
  edit(vk, '    std::pair<vk_pipeline, vk_pipeline> xe_fa_pipeline_dual_phases = { nullptr , nullptr };\n',
    `    std::pair<vk_pipeline, vk_pipeline> xe_fa_pipeline_dual_phases = { nullptr , nullptr };\n#if !defined(${GUARD})\n    xe_fa_supported_platform = false;\n#endif\n`);

  const settings = '    VkBool32 enable_best_practice = layer_settings;\n';
  const create = '    vk::InstanceCreateInfo instance_create_info(vk::InstanceCreateFlags{}, &app_info, layers, extensions, &layer_setting_info);\n';
  const t2 = fs.readFileSync(vk, 'utf8');
  const s0 = t2.indexOf(settings);
  const s1 = t2.indexOf(create);
  if (s0 < 0 || s1 < s0 || t2.indexOf(settings, s0 + 1) >= 0) throw new Error(`vulkan-source: the instance creation is not in ${vk} as expected`);
  fs.writeFileSync(vk, `${t2.slice(0, s0)}#ifdef VK_EXT_layer_settings\n${t2.slice(s0, s1 + create.length)}#else\n` +
    `    vk::InstanceCreateInfo instance_create_info(vk::InstanceCreateFlags{}, &app_info, layers, extensions);\n#endif\n${t2.slice(s1 + create.length)}`);
}

// A folder of symlinks to `src`'s entries, except `keep`, which the caller fills itself.
function linkAllBut(src, dst, keep) {
  fs.mkdirSync(dst, { recursive: true });
  for (const name of fs.readdirSync(src)) {
    if (name === keep) continue;
    const link = path.join(dst, name);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(src, name), link);
  }
}

/** The llama.cpp folder to configure the Vulkan build with: the view under `workDir` (remade when the pinned source changes). */
export function vulkanLlamaDir(pinned, workDir) {
  const view = path.join(workDir, 'llama.cpp-vulkan');
  const stamp = path.join(view, '.adapted-from');
  // The pinned source and this script: either changing remakes the view.
  const from = `${fs.statSync(path.join(pinned, 'CMakeLists.txt')).mtimeMs} ${fs.statSync(new URL(import.meta.url)).mtimeMs}`;
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === from) return view;
  fs.rmSync(view, { recursive: true, force: true });
  linkAllBut(pinned, view, 'ggml');
  linkAllBut(path.join(pinned, 'ggml'), path.join(view, 'ggml'), 'src');
  linkAllBut(path.join(pinned, 'ggml', 'src'), path.join(view, 'ggml', 'src'), 'ggml-vulkan');
  fs.cpSync(path.join(pinned, 'ggml', 'src', 'ggml-vulkan'), path.join(view, 'ggml', 'src', 'ggml-vulkan'), { recursive: true });
  adapt(path.join(view, 'ggml', 'src', 'ggml-vulkan'));
  fs.writeFileSync(stamp, from);
  if (!glslcHasCoopmat()) {
    process.stderr.write('[build-gpu] this glslc has no GL_KHR_cooperative_matrix: ggml-vulkan is built without its Intel Xe cooperative-matrix flash-attention decode\n');
  }
  return view;
}
