// MiniMonkey.load's options checked once into the object the load runs on: ranges from LIMITS,
// defaults from DEFAULTS, the two files resolved. The text model, the vision tower, the contexts
// and SCM's pre-pass are opened from it without checking again (the addon re-checks what could
// crash it).
import { InvalidArgumentError } from '../errors';
import { FAMILY_NAMES, FamilyName, isFamilyName } from '../family';
import { checkInt, checkKvCacheType, DEFAULTS, KvCacheType } from '../limits';
import { settleTextModelLoad, SettledTextModelLoad } from '../llm/text-model';
import type { MiniMonkeyLoadOptions } from '../model-options';
import { PageCache, pageCacheFrom } from '../page-cache/page-cache';
import { checkThreads } from '../threads';
import { checkCallback, checkSignal } from '../util/abort';
import { ModelFiles, resolveModelFiles } from './resolve';

export interface SettledLoad extends ModelFiles {
  /** Undefined: detected from the text model's chat template. */
  family: FamilyName | undefined;
  threads: number;
  /** Undefined: sized per chat (a lone chat grows; with `parallel`, defaultSequenceSize). */
  contextSize: number | undefined;
  batchSize: number;
  kvCacheType: KvCacheType;
  /** Undefined: each chat has a context of its own. */
  parallel: number | undefined;
  imageCacheBytes: number;
  /** Undefined: no disk cache. */
  pageCache: PageCache | undefined;
  /** Device, GPU layers, signal and text progress, as TextModel.open takes them. */
  text: SettledTextModelLoad;
  onProgress: MiniMonkeyLoadOptions['onProgress'];
}

/** `options` checked and completed; throws InvalidArgumentError, or ModelLoadError for an hf: name not pulled. */
export function settleLoad(options: MiniMonkeyLoadOptions): SettledLoad {
  const o = resolveModelFiles(options);
  const threads = checkThreads(o.threads);
  const contextSize = checkInt('contextSize', o.contextSize);
  const batchSize = checkInt('batchSize', o.batchSize) ?? DEFAULTS.batchSize;
  const parallel = checkInt('parallel', o.parallel);
  checkSignal(o.signal);
  checkCallback(o.onProgress, 'onProgress');
  if (o.family !== undefined && !isFamilyName(o.family)) throw new InvalidArgumentError(`family must be one of ${FAMILY_NAMES.join(', ')}`);
  if (o.imageCacheBytes !== undefined && !(typeof o.imageCacheBytes === 'number' && o.imageCacheBytes >= 0)) {
    throw new InvalidArgumentError('imageCacheBytes must be a number >= 0');
  }
  const pageCache = pageCacheFrom(o.pageCache);
  // The text model's progress is reported as the load's 'text' phase by the loader (pairing.ts).
  const text = settleTextModelLoad(o.model, { device: o.device, gpuLayers: o.gpuLayers, signal: o.signal });
  return {
    model: o.model,
    mmproj: o.mmproj,
    family: o.family,
    threads,
    contextSize,
    batchSize,
    kvCacheType: checkKvCacheType(o.kvCacheType),
    parallel,
    imageCacheBytes: o.imageCacheBytes ?? DEFAULTS.imageCacheBytes,
    pageCache,
    text,
    onProgress: o.onProgress,
  };
}
