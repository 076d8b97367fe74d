// A model's road from an image to its embeddings: read and planned (prepare), then the memory
// cache, the page cache on disk, and only on a miss of both the vision tower (encode). The two
// caches are kept here, beside the tower they save work for.
import path from 'node:path';
import { fromNative } from '../errors';
import { ImageInput, loadImage, LoadImageOptions } from '../image/load';
import type { PreparedImage } from '../llm/chat-host';
import { ImageEmbeddingCache, imageKey } from './image-cache';
import type { PresetName } from '../msac/presets';
import type { CropOptions } from '../msac/types';
import { fileIdentity } from '../page-cache/file-identity';
import { pageKey } from '../page-cache/key';
import type { PageCache } from '../page-cache/page-cache';
import { throwIfAborted } from '../util/abort';
import { encodePlanned, EncodedImage } from '../vision/encode-image';
import type { VisionEncoder } from '../vision/encoder';
import { planFor } from '../vision/preprocess';

/** Where an image's embeddings came from when not from the vision tower. */
export type EmbeddingSource = false | 'memory' | 'disk';

export class ImagePipeline {
  private readonly cache: ImageEmbeddingCache;

  constructor(
    private readonly vision: VisionEncoder,
    /** The crop when none is asked for: the family's default preset. */
    private readonly defaultCrop: PresetName,
    /** Part of the page cache's key: embeddings belong to this projector file. */
    private readonly mmprojPath: string,
    cacheBytes: number,
    readonly pages: PageCache | undefined,
  ) {
    this.cache = new ImageEmbeddingCache(cacheBytes);
  }

  /** The memory cache's counters. */
  get stats(): { entries: number; hits: number; misses: number } {
    return { entries: this.cache.size, hits: this.cache.hits, misses: this.cache.misses };
  }

  /** An image read (a PDF page rendered for its crop) and planned; the turn's token count is known from it. */
  async prepare(input: ImageInput, crop: PresetName | CropOptions | undefined, load: LoadImageOptions | undefined): Promise<PreparedImage> {
    const c = crop ?? this.defaultCrop;
    // A PDF page is rendered for the crop it is asked with (pdf/dpi.ts), unless told otherwise.
    const rgb = await loadImage(input, { ...load, pdf: { crop: c, ...load?.pdf } });
    // The one plan of this image: it sizes the prompt here and cuts the tiles in encode().
    const plan = planFor(rgb.width, rgb.height, c, this.vision.info.tokensPerTile);
    return { rgb, crop: c, plan, key: imageKey(rgb, c) };
  }

  /** The embeddings of a prepared image: from memory, from disk, or through the vision tower (then kept in both). */
  async encode(img: PreparedImage, signal: AbortSignal | undefined, onTiles?: (done: number) => void): Promise<{ embeddings: Float32Array; cached: EmbeddingSource }> {
    throwIfAborted(signal);
    const hit = this.cache.get(img.key);
    if (hit) return { embeddings: hit.embeddings, cached: 'memory' };
    const width = this.vision.info.embeddingWidth;
    const floats = img.plan.imageTokens * width;
    const diskKey = this.pages && (await this.pageKeyOf(this.pages, img));
    if (diskKey) {
      const stored = await this.pages!.get(diskKey, floats);
      if (stored) {
        this.cache.set(img.key, { plan: img.plan, embeddings: stored, embeddingWidth: width });
        return { embeddings: stored, cached: 'disk' };
      }
    }
    let enc: EncodedImage;
    try {
      enc = await encodePlanned(this.vision, img.rgb, img.plan, { signal, onTiles });
    } catch (e) {
      throw fromNative(e);
    }
    this.cache.set(img.key, enc);
    if (diskKey) await this.pages!.put(diskKey, enc.embeddings);
    return { embeddings: enc.embeddings, cached: false };
  }

  /** Drops the memory cache (the model is disposed). */
  clear(): void {
    this.cache.clear();
  }

  /** The page cache's key for an image; undefined (no disk cache for it) when the mmproj cannot be read. */
  private async pageKeyOf(pages: PageCache, img: PreparedImage): Promise<string | undefined> {
    const v = this.vision.info;
    let mmproj: string;
    try {
      mmproj = await fileIdentity(this.mmprojPath, path.join(pages.dir, 'files'));
    } catch (e) {
      process.emitWarning(`page cache: cannot hash ${this.mmprojPath} (${(e as Error).message}); not cached`, { code: 'MINIMONKEY_PAGE_CACHE' });
      return undefined;
    }
    return pageKey({
      image: img.key, imageTokens: img.plan.imageTokens, mmproj, device: v.device, weightType: v.weightType, weightBuffer: v.weightBuffer, embeddingWidth: v.embeddingWidth,
    });
  }
}
