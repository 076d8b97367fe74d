// The weights of a Hugging Face checkpoint folder: one model.safetensors, or shards listed by
// model.safetensors.index.json. Exposes one name → tensor table across all shards.
import fs from 'node:fs';
import path from 'node:path';
import { ModelLoadError, UnsupportedError } from '../errors';
import { isInputFile, readInputFileSync } from '../util/file-kind';
import { readSafetensorsHeader, readTensor, SafetensorsTensor, unsupportedDtype } from './safetensors';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export class Checkpoint {
  private constructor(
    readonly dir: string,
    readonly files: string[],
    private readonly table: Map<string, SafetensorsTensor>,
    private readonly unsupported: Map<string, { file: string; dtype: string }>,
  ) {}

  static open(dir: string): Checkpoint {
    const files = Checkpoint.listFiles(dir);
    const table = new Map<string, SafetensorsTensor>();
    const unsupported = new Map<string, { file: string; dtype: string }>();
    for (const file of files) {
      const st = readSafetensorsHeader(file);
      for (const [name, t] of st.tensors) {
        if (table.has(name) || unsupported.has(name)) throw new ModelLoadError(`${dir}: tensor '${name}' appears in more than one shard`);
        table.set(name, t);
      }
      for (const [name, dtype] of st.unsupported) unsupported.set(name, { file, dtype });
    }
    return new Checkpoint(dir, files, table, unsupported);
  }

  private static listFiles(dir: string): string[] {
    const index = path.join(dir, INDEX_FILE);
    if (isInputFile(index, 'weight index')) {
      let json: { weight_map?: Record<string, string> };
      try {
        json = JSON.parse(readInputFileSync(index, 'weight index').toString('utf8'));
      } catch (e) {
        throw new ModelLoadError(`${index}: not valid JSON (${(e as Error).message})`, { cause: e });
      }
      if (typeof json?.weight_map !== 'object' || json.weight_map === null) throw new ModelLoadError(`${index}: no weight_map`);
      const shards = [...new Set(Object.values(json.weight_map))].sort();
      for (const s of shards) {
        if (typeof s !== 'string' || s.includes('/') || s.includes('\\')) throw new ModelLoadError(`${index}: bad shard name ${JSON.stringify(s)}`);
        if (!isInputFile(path.join(dir, s), 'shard')) throw new ModelLoadError(`${dir}: shard '${s}' listed in ${INDEX_FILE} is missing`);
      }
      if (shards.length === 0) throw new ModelLoadError(`${index}: weight_map is empty`);
      return shards.map((s) => path.join(dir, s));
    }
    const single = path.join(dir, SINGLE_FILE);
    if (isInputFile(single, 'weights')) return [single];
    if (fs.existsSync(path.join(dir, 'pytorch_model.bin')) || fs.existsSync(path.join(dir, 'pytorch_model.bin.index.json'))) {
      throw new UnsupportedError(`${dir}: only PyTorch .bin weights were found; the converter reads safetensors (re-save the model with safe_serialization=True)`);
    }
    throw new ModelLoadError(`${dir}: no ${SINGLE_FILE} or ${INDEX_FILE}`);
  }

  names(): string[] {
    return [...this.table.keys(), ...this.unsupported.keys()];
  }

  has(name: string): boolean {
    return this.table.has(name) || this.unsupported.has(name);
  }

  /** Shape and dtype of a tensor; throws a typed error when it is missing or in an unsupported dtype. */
  info(name: string): SafetensorsTensor {
    const t = this.table.get(name);
    if (t) return t;
    const u = this.unsupported.get(name);
    if (u) throw unsupportedDtype(u.file, name, u.dtype);
    throw new ModelLoadError(`${this.dir}: the checkpoint has no tensor '${name}'`);
  }

  /** The tensor as f32, checked against the expected PyTorch shape. */
  async read(name: string, shape: readonly number[]): Promise<Float32Array> {
    const t = this.info(name);
    checkShape(name, t.shape, shape);
    return readTensor(t);
  }
}

export function checkShape(name: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new ModelLoadError(`tensor '${name}' has shape [${got.join(', ')}], config.json implies [${want.join(', ')}]`);
  }
}
