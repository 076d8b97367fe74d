// Reads an InternVL2 / Mini-Monkey `config.json` into the hyperparameters the converter needs,
// rejecting (with typed errors) variants our runtime does not implement.
import { archOfHfClass, HF_CLASSES, TEXT_ARCHS, TextArch } from '../family';
import { ModelLoadError, UnsupportedError } from '../errors';
import { checkInputFile, readInputFileSync } from '../util/file-kind';
import type { VisionShape } from '../synth/shapes';

/** The vision shape; `layers` counts those kept: all for select_layer = -1, fewer for a deeper one. */
export interface VisionConfig extends VisionShape {
  /** Layers in the checkpoint. */
  checkpointLayers: number;
  lnEps: number;
  minTiles: number;
  maxTiles: number;
}

/** LLM architectures we convert, by llama.cpp arch name (the family table, lib/family.ts). */
export type { TextArch } from '../family';

export interface TextConfig {
  arch: TextArch;
  hfArch: string;
  embd: number;
  ffn: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  contextLength: number;
  ropeTheta: number;
  rmsEps: number;
  vocabSize: number;
  tiedEmbeddings: boolean;
  /** llm_config's bos/eos ids, where given: the BPE vocabulary's fallback when tokenizer_config names none. */
  bosTokenId: number | undefined;
  eosTokenId: number | undefined;
}

export interface HfConfig {
  architecture: string;
  vision: VisionConfig;
  text: TextConfig;
  /** 1 / downsample_ratio: the pixel-shuffle factor. */
  scaleFactor: number;
}


type Json = Record<string, unknown>;

function obj(v: unknown, what: string, file: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ModelLoadError(`${file}: ${what} is missing or not an object`);
  return v as Json;
}

function int(o: Json, key: string, what: string, file: string, fallback?: number): number {
  const v = o[key] ?? fallback;
  if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new ModelLoadError(`${file}: ${what}.${key} must be a positive integer (got ${JSON.stringify(o[key])})`);
  return v as number;
}

function num(o: Json, key: string, what: string, file: string, fallback?: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ModelLoadError(`${file}: ${what}.${key} must be a positive number (got ${JSON.stringify(o[key])})`);
  return v;
}

/** A token id given as a non-negative integer; anything else (absent, null, a list) counts as not given. */
function optionalId(o: Json, key: string): number | undefined {
  const v = o[key];
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined;
}

export function parseHfConfig(json: unknown, file = 'config.json'): HfConfig {
  const root = obj(json, 'the top level', file);
  const archs = Array.isArray(root.architectures) ? root.architectures : [];
  const architecture = String(archs[0] ?? root.model_type ?? 'unknown');
  if (root.vision_config === undefined || root.llm_config === undefined) {
    throw new UnsupportedError(`${file}: architecture '${architecture}' is not an InternVL2-style model (no vision_config / llm_config)`);
  }
  const vc = obj(root.vision_config, 'vision_config', file);
  const lc = obj(root.llm_config, 'llm_config', file);

  // Variants of InternViT the runtime's graph does not implement.
  if (vc.qk_normalization === true) throw new UnsupportedError(`${file}: vision_config.qk_normalization = true (InternViT-6B style) is not supported`);
  if (vc.norm_type !== undefined && vc.norm_type !== 'layer_norm') throw new UnsupportedError(`${file}: vision_config.norm_type '${vc.norm_type}' is not supported (layer_norm only)`);
  if (vc.qkv_bias === false) throw new UnsupportedError(`${file}: vision_config.qkv_bias = false is not supported`);
  if (vc.hidden_act !== undefined && vc.hidden_act !== 'gelu') throw new UnsupportedError(`${file}: vision_config.hidden_act '${vc.hidden_act}' is not supported (gelu only)`);
  const ps = root.ps_version ?? 'v2';
  if (ps !== 'v2') throw new UnsupportedError(`${file}: ps_version '${ps}' is not supported (v2 only)`);
  const ratio = root.downsample_ratio ?? 0.5;
  if (ratio !== 0.5) throw new UnsupportedError(`${file}: downsample_ratio ${ratio} is not supported (0.5 only)`);

  const checkpointLayers = int(vc, 'num_hidden_layers', 'vision_config', file);
  const select = root.select_layer ?? -1;
  if (!Number.isInteger(select) || (select as number) >= 0 || (select as number) < -checkpointLayers) {
    throw new UnsupportedError(`${file}: select_layer ${JSON.stringify(select)} is not supported (a negative layer index)`);
  }
  // hidden_states has layers+1 entries (embeddings first), so select_layer −k is the output of layer L−k+1.
  const layers = checkpointLayers + 1 + (select as number);
  const imageSize = int(root, 'force_image_size', 'config', file, int(vc, 'image_size', 'vision_config', file));
  const vision: VisionConfig = {
    imageSize,
    patchSize: int(vc, 'patch_size', 'vision_config', file),
    hidden: int(vc, 'hidden_size', 'vision_config', file),
    heads: int(vc, 'num_attention_heads', 'vision_config', file),
    ffn: int(vc, 'intermediate_size', 'vision_config', file),
    layers,
    checkpointLayers,
    lnEps: num(vc, 'layer_norm_eps', 'vision_config', file, 1e-6),
    minTiles: Number.isInteger(root.min_dynamic_patch) ? (root.min_dynamic_patch as number) : 0,
    maxTiles: Number.isInteger(root.max_dynamic_patch) ? (root.max_dynamic_patch as number) : 0,
  };
  if (vision.imageSize % vision.patchSize !== 0 || (vision.imageSize / vision.patchSize) % 2 !== 0) {
    throw new ModelLoadError(`${file}: image size ${vision.imageSize} / patch ${vision.patchSize} must be an even whole number of patches`);
  }
  if (vision.hidden % vision.heads !== 0) throw new ModelLoadError(`${file}: vision hidden_size is not divisible by num_attention_heads`);

  const llmArchs = Array.isArray(lc.architectures) ? lc.architectures : [];
  const hfArch = String(llmArchs[0] ?? lc.model_type ?? 'unknown');
  const arch = archOfHfClass(hfArch);
  if (!arch) {
    throw new UnsupportedError(`${file}: language model '${hfArch}' is not supported (supported: ${HF_CLASSES.join(', ')})`);
  }
  // Qwen2 always has q/k/v biases (and only those), so its config has no switch for them; the others have none.
  if (!TEXT_ARCHS[arch].qkvBias && (lc.bias === true || lc.attention_bias === true)) {
    throw new UnsupportedError(`${file}: a ${hfArch} language model with attention biases is not supported`);
  }
  if (lc.hidden_act !== undefined && lc.hidden_act !== 'silu') throw new UnsupportedError(`${file}: llm_config.hidden_act '${lc.hidden_act}' is not supported (silu only)`);
  // llama.cpp's qwen2 graph attends over the whole context; a model trained with a sliding window would differ.
  if (lc.use_sliding_window === true) throw new UnsupportedError(`${file}: llm_config.use_sliding_window = true is not supported`);
  const rs = lc.rope_scaling as Json | null | undefined;
  // Dynamic NTK only changes the base past max_position_embeddings (facts §1.5), so it is dropped, as llama.cpp does.
  if (rs && rs.type !== 'dynamic' && rs.rope_type !== 'dynamic') throw new UnsupportedError(`${file}: llm_config.rope_scaling ${JSON.stringify(rs)} is not supported`);
  const heads = int(lc, 'num_attention_heads', 'llm_config', file);
  const embd = int(lc, 'hidden_size', 'llm_config', file);
  const text: TextConfig = {
    arch,
    hfArch,
    embd,
    ffn: int(lc, 'intermediate_size', 'llm_config', file),
    layers: int(lc, 'num_hidden_layers', 'llm_config', file),
    heads,
    kvHeads: int(lc, 'num_key_value_heads', 'llm_config', file, heads),
    headDim: embd / heads,
    contextLength: int(lc, 'max_position_embeddings', 'llm_config', file),
    ropeTheta: num(lc, 'rope_theta', 'llm_config', file, 10000),
    rmsEps: num(lc, 'rms_norm_eps', 'llm_config', file),
    vocabSize: int(lc, 'vocab_size', 'llm_config', file),
    tiedEmbeddings: lc.tie_word_embeddings === true,
    bosTokenId: optionalId(lc, 'bos_token_id'),
    eosTokenId: optionalId(lc, 'eos_token_id'),
  };
  if (!Number.isInteger(text.headDim) || text.headDim % 2 !== 0) throw new ModelLoadError(`${file}: llm hidden_size / num_attention_heads must be an even integer`);
  if (heads % text.kvHeads !== 0) throw new ModelLoadError(`${file}: num_attention_heads is not a multiple of num_key_value_heads`);
  return { architecture, vision, text, scaleFactor: Math.round(1 / (ratio as number)) };
}

export function readHfConfig(file: string): HfConfig {
  let text: string;
  checkInputFile(file, 'config'); // a FIFO or a /proc path is refused (IO), never read
  try {
    text = readInputFileSync(file, 'config').toString('utf8');
  } catch (e) {
    throw new ModelLoadError((e as Error).message, { cause: e }); // readInputFileSync names the file
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelLoadError(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return parseHfConfig(json, file);
}
