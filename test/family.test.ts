// The model-family table (lib/family.ts) on real computation: the arch facts agree with what
// libllama itself makes of converted files (rope type), the family comes from the text model's
// chat template as libllama reads it (the real InternVL2-2B template → internlm2-chat; InternVL2.5 /
// InternVL3's, which carries their system message → ChatML with '\n' after <|im_end|>), and an
// InternVL3-layout pair (Qwen2 LLM, InternViT-300M V2_5 tower: layer norm, no qk norm, layer scale,
// select_layer -1, downsample 0.5) written by the converter in llama.cpp's layout runs: vision equal
// to the float64 reference, the ChatML prompt token for token, MSAC and SCM in a turn.
import fs from 'node:fs';
import path from 'node:path';
import { FAMILIES, INTERNVL2_5_SYSTEM_MESSAGE, INTERNVL2_SYSTEM_MESSAGE, MiniMonkey, TEXT_ARCHS, detectFamily } from '../lib';
import { convertCheckpoint } from '../lib/convert/convert';
import { TextModel } from '../lib/llm/text-model';
import { VisionEncoder } from '../lib/vision/encoder';
import { editJson } from './helpers/convert-expect';
import { rewriteGguf } from './helpers/rewrite-gguf';
import { GgufValueType } from '../lib/gguf/constants';
import { TINY, writeHfCheckpoint } from './helpers/hf-checkpoint';
import { writeQwen2Checkpoint } from './helpers/hf-qwen2-checkpoint';
import { hfToRefWeights } from './helpers/hf-ref-weights';
import { distinctTiles, relError, tempDir, tinyPair } from './helpers/models';
import { referenceEncode } from './reference/internvit';

const realTokenizerConfig = path.join(__dirname, '..', '..', 'shared', 'real', 'internvl2-2b', 'tokenizer_config.json');

/** InternVL2.5 / InternVL3's chat template: ChatML, with their system message when none is given. */
const INTERNVL2_5_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{'<|im_start|>system\\n" + INTERNVL2_5_SYSTEM_MESSAGE +
  "<|im_end|>\\n'}}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const bool = (value: boolean) => ({ type: GgufValueType.BOOL, value });

let n = 0;
const out = () => path.join(tempDir(), 'family-out', `o-${++n}`);

/** An InternVL3-style checkpoint: Qwen2 LLM, InternVL2.5's template in tokenizer_config.json and config.json. */
function internvl3Checkpoint(seed: number) {
  const ckpt = writeQwen2Checkpoint(path.join(tempDir(), 'family', `internvl3-${seed}`), { seed });
  editJson(path.join(ckpt.dir, 'tokenizer_config.json'), (j) => (j.chat_template = INTERNVL2_5_TEMPLATE));
  editJson(path.join(ckpt.dir, 'config.json'), (j) => {
    j.template = 'internvl2_5';
    j.vision_config.norm_type = 'layer_norm'; // the 300M V2_5 tower's own settings, spelled out
    j.vision_config.qk_normalization = false;
    j.select_layer = -1;
    j.downsample_ratio = 0.5;
  });
  return ckpt;
}

describe('the family table', () => {
  it("each arch's rope type is the one libllama runs the converted file with", async () => {
    const internlm2 = (await tinyPair('f32', 3)).model;
    const llamaCkpt = writeHfCheckpoint(path.join(tempDir(), 'family', 'llama'), { seed: 3, llm: 'llama' });
    const llama = (await convertCheckpoint({ checkpointDir: llamaCkpt.dir, outDir: out(), textType: 'f32' })).model;
    const qwen2 = (await convertCheckpoint({ checkpointDir: internvl3Checkpoint(4).dir, outDir: out(), textType: 'f32' })).model;
    const seen: Record<string, string | undefined> = {};
    for (const file of [internlm2, llama, qwen2]) {
      const t = await TextModel.load(file);
      seen[t.info.arch] = t.info.ropeType;
      t.dispose();
    }
    expect(seen).toEqual({ internlm2: TEXT_ARCHS.internlm2.rope, llama: TEXT_ARCHS.llama.rope, qwen2: TEXT_ARCHS.qwen2.rope });
    expect(seen).toEqual({ internlm2: 'norm', llama: 'norm', qwen2: 'neox' });
  });

  it('the family comes from the chat template: the real InternVL2-2B one is internlm2-chat, InternVL2.5/3 is ChatML', () => {
    const real = JSON.parse(fs.readFileSync(realTokenizerConfig, 'utf8')).chat_template as string;
    expect(real).toContain("'<|im_end|>' + '\n'"); // a newline in the template, none in the trained prompt (facts §3.4)
    expect(detectFamily({ arch: 'internlm2', chatTemplate: real })).toBe(FAMILIES.internvl2);
    expect(detectFamily({ arch: 'qwen2', chatTemplate: INTERNVL2_5_TEMPLATE })).toBe(FAMILIES['internvl2.5']);
    expect(detectFamily({ arch: 'internlm2', chatTemplate: INTERNVL2_5_TEMPLATE })).toBe(FAMILIES['internvl2.5']); // InternVL2.5-2B's LLM is InternLM2.5
    expect(detectFamily({ arch: 'qwen2', chatTemplate: '' })).toBe(FAMILIES.internvl2);
    expect(FAMILIES.internvl2.systemMessage).toBe(INTERNVL2_SYSTEM_MESSAGE);
    expect(FAMILIES['internvl2.5'].turnSeparator).toBe('\n');
    expect(FAMILIES.internvl2.turnSeparator).toBe('');
  });
});

describe('an InternVL3-layout pair (Qwen2 LLM, 300M V2_5 tower)', () => {
  let mm: MiniMonkey;
  let pair: { model: string; mmproj: string };
  let ckpt: ReturnType<typeof internvl3Checkpoint>;
  beforeAll(async () => {
    ckpt = internvl3Checkpoint(31);
    pair = await convertCheckpoint({ checkpointDir: ckpt.dir, outDir: out(), textType: 'f32', visionType: 'f32' });
    mm = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096 });
  }, 300_000);
  afterAll(() => mm?.dispose());

  it('is detected as InternVL2.5 / InternVL3 and prompts with ChatML and their system message, turn after turn', async () => {
    expect(mm.family.name).toBe('internvl2.5');
    expect(mm.text.info.chatTemplate).toBe(INTERNVL2_5_TEMPLATE);
    const tok = (s: string) => Array.from(mm.text.tokenize(s, { special: true }));
    const chat = await mm.chat();
    expect(chat.system).toBe(INTERNVL2_5_SYSTEM_MESSAGE);
    const q1 = 'What is the total?';
    const r1 = await chat.ask(q1, { maxTokens: 3 });
    const first = `<|im_start|>system\n${INTERNVL2_5_SYSTEM_MESSAGE}<|im_end|>\n<|im_start|>user\n${q1}<|im_end|>\n<|im_start|>assistant\n`;
    expect(r1.tokens.prompt).toBe(tok(first).length);
    const q2 = 'And the date?';
    const r2 = await chat.ask(q2, { maxTokens: 3 });
    expect(r2.tokens.prompt).toBe(tok(`<|im_end|>\n<|im_start|>user\n${q2}<|im_end|>\n<|im_start|>assistant\n`).length);
    // The whole conversation in the context equals one tokenization of its ChatML text (replies as generated).
    const history = [...tok(first), ...r1.tokenIds, ...tok(`<|im_end|>\n<|im_start|>user\n${q2}<|im_end|>\n<|im_start|>assistant\n`), ...r2.tokenIds];
    expect(chat.contextUsed).toBe(history.length);
    chat.dispose();

    // `family` overrides the detection: internlm2-chat has no newlines and InternVL2's message.
    const m2 = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 2048, family: 'internvl2' });
    const c2 = await m2.chat();
    const r = await c2.ask(q1, { maxTokens: 1 });
    expect(r.tokens.prompt).toBe(tok(`<|im_start|>system\n${INTERNVL2_SYSTEM_MESSAGE}<|im_end|><|im_start|>user\n${q1}<|im_end|><|im_start|>assistant\n`).length);
    m2.dispose();
    await expect(MiniMonkey.load({ ...pair, family: 'internvl9' as never })).rejects.toThrow(/family must be one of internvl2, internvl2.5/);
  });

  it('the vision tower equals the float64 reference on the HF tensors', async () => {
    const refCfg = { ...TINY.vision, lnEps: 1e-6, projLnEps: 1e-5 };
    const tiles = distinctTiles(2, refCfg.imageSize, 9);
    const enc = await VisionEncoder.load(pair.mmproj, { threads: 2 });
    try {
      const ours = await enc.encode(tiles, 2);
      expect(relError(ours, referenceEncode(hfToRefWeights(ckpt.tensors), refCfg, tiles, 2))).toBeLessThanOrEqual(1e-4);
    } finally {
      enc.dispose();
    }
  });

  it("the tower's facts are read from the mmproj: a SiLU tower or qk-norm tensors (InternViT-6B style) are UNSUPPORTED", async () => {
    const silu = path.join(out(), 'mmproj-silu.gguf');
    fs.mkdirSync(path.dirname(silu), { recursive: true });
    await rewriteGguf(pair.mmproj, silu, { kv: { 'clip.use_silu': bool(true), 'clip.use_gelu': bool(false) } });
    await expect(VisionEncoder.load(silu)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/SiLU vision tower/) });
    const qkNorm = path.join(path.dirname(silu), 'mmproj-qknorm.gguf');
    const H = TINY.vision.hidden;
    await rewriteGguf(pair.mmproj, qkNorm, { addTensors: [{ name: 'v.blk.0.attn_q_norm.weight', ne: [H], values: new Float32Array(H).fill(1) }] });
    await expect(VisionEncoder.load(qkNorm)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/qk normalisation/) });
    // The unchanged file loads (the check does not refuse the 300M tower).
    const ok = await VisionEncoder.load(pair.mmproj);
    expect(ok.info.tokensPerTile).toBe(FAMILIES['internvl2.5'].tokensPerTile);
    ok.dispose();
  });

  it('MSAC and SCM run in a turn: fewer image tokens prefilled, the ChatML layout kept', async () => {
    const img = { data: new Uint8Array(900 * 600 * 3).map((_, i) => (i * 31 + (i >> 7)) & 255), width: 900, height: 600, channels: 3 as const };
    const chat = await mm.chat();
    const full = await chat.ask([{ type: 'image', image: img }, 'Read it.'], { crop: 'fast', maxTokens: 2 });
    chat.dispose();
    const c2 = await mm.chat();
    const scm = await c2.ask([{ type: 'image', image: img }, 'Read it.'], { crop: 'fast', maxTokens: 2, scm: true });
    c2.dispose();
    const report = scm.scm!;
    expect(report.detailTokens).toBeGreaterThan(0);
    expect(report.detailKept).toBeLessThan(report.detailTokens);
    expect(scm.tokens.prompt).toBe(full.tokens.prompt - (report.detailTokens - report.detailKept));
  });
});
