// Image embeddings by content: a second question about the same image (same pixels, same crop
// options) skips decoding the tiles through the vision tower. Least recently used goes first
// when the byte budget is exceeded.
import { createHash } from 'node:crypto';
import type { EncodedImage } from '../vision/encode-image';
import type { RgbImage } from '../image/load';

export function imageKey(img: RgbImage, crop: unknown): string {
  const h = createHash('sha256');
  h.update(`${img.width}x${img.height}:${JSON.stringify(crop ?? 'default')}:`);
  h.update(img.data);
  return h.digest('hex');
}

export class ImageEmbeddingCache {
  private readonly entries = new Map<string, EncodedImage>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly budgetBytes: number) {}

  get(key: string): EncodedImage | undefined {
    const e = this.entries.get(key);
    if (e) {
      // Move to the most recently used end.
      this.entries.delete(key);
      this.entries.set(key, e);
      this.hits++;
    } else {
      this.misses++;
    }
    return e;
  }

  set(key: string, value: EncodedImage): void {
    const size = value.embeddings.byteLength;
    if (size > this.budgetBytes || this.entries.has(key)) return;
    this.entries.set(key, value);
    this.bytes += size;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.budgetBytes) break;
      this.entries.delete(k);
      this.bytes -= v.embeddings.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
