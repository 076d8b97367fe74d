// What a chat session needs from the model that made it (MiniMonkey implements it).
import type { ImageInput, LoadImageOptions } from '../image/load';
import type { PresetName } from '../msac/presets';
import type { CropOptions, CropPlan } from '../msac/types';
import type { SerialQueue } from '../util/serial-queue';
import type { RgbImage } from '../image/load';
import type { ScmPrepass } from './scm-prepass';
import type { TextModel } from './text-model';
import type { ModelFamily } from '../family';
import type { PromptPrefixes } from '../page-cache/prompt-prefix';

/** An image read and planned, not yet through the vision tower. */
export interface PreparedImage {
  rgb: RgbImage;
  crop: PresetName | CropOptions;
  plan: CropPlan;
  /** Content hash + crop options: the embedding cache key. */
  key: string;
}

export interface ChatHost {
  readonly text: TextModel;
  /** Template, system message and special tokens of the model's family. */
  readonly family: ModelFamily;
  /**
   * One heavy job at a time per model: encodes and the SCM pre-pass, and (without `parallel`) whole
   * turns; with `parallel` the decodes go through the shared context's batcher instead.
   */
  readonly queue: SerialQueue;
  readonly disposed: boolean;
  /** With the page cache on: first turns' prompt prefixes, restored or computed (page-cache/prompt-prefix.ts). */
  readonly prefixes?: PromptPrefixes;
  prepareImage(input: ImageInput, crop: PresetName | CropOptions | undefined, load: LoadImageOptions | undefined): Promise<PreparedImage>;
  /** `cached`: where the embeddings came from when not from the vision tower (the page cache is 'disk'). */
  encodePrepared(img: PreparedImage, signal: AbortSignal | undefined, onTiles?: (done: number) => void): Promise<{ embeddings: Float32Array; cached: false | 'memory' | 'disk' }>;
  /** SCM's pre-pass on the same text model. */
  scmPrepass(): Promise<ScmPrepass>;
  /** A session was disposed: the host drops its reference. */
  forgetSession(session: object): void;
}
