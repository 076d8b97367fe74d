// The metadata of a vision projector file in llama.cpp's layout (clip / internvl, facts §5.1),
// written the same way by the synthesizer and the checkpoint converter.
import { GgufValueType } from './constants';
import type { GgufWriter } from './writer';

export interface MmprojKeys {
  name: string;
  imageSize: number;
  patchSize: number;
  hidden: number;
  ffn: number;
  layers: number;
  heads: number;
  lnEps: number;
  /** Width of the projected embeddings: the text model's hidden size. */
  projectionDim: number;
  mean: readonly number[];
  std: readonly number[];
  /** 1 / downsample_ratio of the pixel shuffle (2 for InternVL2). */
  scaleFactor: number;
}

export function writeMmprojKeys(w: GgufWriter, k: MmprojKeys): void {
  w.addString('general.architecture', 'clip');
  w.addString('general.type', 'mmproj');
  w.addString('general.name', k.name);
  w.addBool('clip.has_vision_encoder', true);
  w.addString('clip.projector_type', 'internvl');
  w.addU32('clip.vision.image_size', k.imageSize);
  w.addU32('clip.vision.patch_size', k.patchSize);
  w.addU32('clip.vision.embedding_length', k.hidden);
  w.addU32('clip.vision.feed_forward_length', k.ffn);
  w.addU32('clip.vision.block_count', k.layers);
  w.addU32('clip.vision.attention.head_count', k.heads);
  w.addF32('clip.vision.attention.layer_norm_epsilon', k.lnEps);
  w.addU32('clip.vision.projection_dim', k.projectionDim);
  w.addArray('clip.vision.image_mean', GgufValueType.FLOAT32, [...k.mean]);
  w.addArray('clip.vision.image_std', GgufValueType.FLOAT32, [...k.std]);
  w.addBool('clip.use_gelu', true);
  w.addU32('clip.vision.projector.scale_factor', k.scaleFactor);
}
