// The key of a page's embeddings: everything that decides their numbers. The image part is the
// in-memory cache's key (decoded pixels, their size and the crop options: model/image-cache.ts), the
// crop plan's token count, the mmproj's content hash, where and with which weights the tower ran
// (a GPU's sums differ from the CPU's), and the package version (a new version may compute the
// tower differently; its entries are simply misses). SCM is not part: it acts after the encode.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../addon-loader';
import { ENTRY_VERSION } from './entry';

export interface PageKeyParts {
  /** imageKey(): pixels, size and crop options. */
  image: string;
  imageTokens: number;
  /** fileIdentity() of the mmproj. */
  mmproj: string;
  device: string;
  weightType: string;
  weightBuffer: string;
  embeddingWidth: number;
}

let version: string | undefined;

function packageVersion(): string {
  if (version === undefined) {
    try {
      version = (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

export function pageKey(p: PageKeyParts): string {
  const parts = [ENTRY_VERSION, packageVersion(), p.image, p.imageTokens, p.mmproj, p.device, p.weightType, p.weightBuffer, p.embeddingWidth];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** What a prompt prefix's KV cells depend on besides the prefix itself: the text model's bytes and how its layers run. */
export interface PrefixModelParts {
  /** fileIdentity() of the text model. */
  model: string;
  device: string;
  gpuLayers: number;
  /** Positions per llama_decode: the chunks the prefix is computed in. */
  batchSize: number;
  /** The KV cache's K and V type (libllama's default f16 until a load option sets another). */
  kvType: string;
}

export function prefixModelKey(p: PrefixModelParts): string {
  const parts = [ENTRY_VERSION, packageVersion(), 'kv-prefix', p.model, p.device, p.gpuLayers, p.batchSize, p.kvType];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}
