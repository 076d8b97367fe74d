// The low-level vision tower API: normalized tiles in, projected image embeddings out.
import fs from 'node:fs';
import { isFloat32Array } from 'node:util/types';
import { DisposedError, fromNative, InvalidArgumentError, ModelLoadError } from '../errors';
import { checkDevice, DeviceOption } from '../devices';
import { checkThreads } from '../threads';
import { native, NativeVisionEncoder } from '../native';
import { cancelTokenFor, throwIfAborted } from '../util/abort';
import { SerialQueue } from '../util/serial-queue';

export interface VisionEncoderLoadOptions {
  /** CPU threads for the encoder (default: the machine's available parallelism). */
  threads?: number;
  /**
   * Where the tower runs (default 'auto': the first GPU ggml finds, else the CPU). A GPU that fails
   * to initialise leaves it on the CPU, with the reason in `info.deviceNote`.
   */
  device?: DeviceOption;
  signal?: AbortSignal;
}

/** @internal VisionEncoderLoadOptions checked once, defaults filled in. */
export interface SettledVisionEncoderLoad {
  threads: number;
  device: DeviceOption;
  signal: AbortSignal | undefined;
}

export interface VisionEncoderInfo {
  /** Tile side in pixels (448 for Mini-Monkey). */
  imageSize: number;
  patchSize: number;
  /** Embeddings produced per tile (256 for Mini-Monkey). */
  tokensPerTile: number;
  /** Width of each embedding: the language model's hidden size (2048). */
  embeddingWidth: number;
  /** ViT hidden size (1024). */
  visionWidth: number;
  layers: number;
  /** ggml type of the ViT weight matrices, e.g. "f16" or "q8_0". */
  weightType: string;
  /**
   * Where ggml keeps those matrices: "CPU", a layout the loaded CPU variant multiplies faster
   * ("CPU_REPACK": ggml's interleaved blocks; "AMX": Sapphire Rapids tiles), as libllama does for
   * text, or the GPU's memory ("Vulkan0", "CUDA0").
   */
  weightBuffer: string;
  /** The device the tower runs on: "CPU", "Vulkan0", ... */
  device: string;
  /** Why it runs on the CPU when a GPU was asked for or found ('' otherwise). */
  deviceNote: string;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}

export interface EncodeOptions {
  signal?: AbortSignal;
}

export class VisionEncoder {
  readonly info: VisionEncoderInfo;
  private handle: NativeVisionEncoder | undefined;
  private readonly queue = new SerialQueue();

  private constructor(handle: NativeVisionEncoder) {
    this.handle = handle;
    this.info = handle.info() as VisionEncoderInfo;
  }

  /** Loads a vision projector GGUF (llama.cpp's mmproj layout, projector type internvl). */
  static async load(mmprojPath: string, options: VisionEncoderLoadOptions = {}): Promise<VisionEncoder> {
    if (typeof mmprojPath !== 'string' || mmprojPath.length === 0) throw new InvalidArgumentError('mmprojPath must be a non-empty string');
    return VisionEncoder.open(mmprojPath, { threads: checkThreads(options.threads), device: checkDevice(options.device), signal: options.signal });
  }

  /** @internal load() with options already settled (MiniMonkey.load checked them): nothing is checked again. */
  static async open(mmprojPath: string, s: SettledVisionEncoderLoad): Promise<VisionEncoder> {
    throwIfAborted(s.signal);
    if (!fs.existsSync(mmprojPath)) throw new ModelLoadError(`${mmprojPath}: file not found`);
    let handle: NativeVisionEncoder;
    try {
      handle = await native().loadVisionEncoder(mmprojPath, s.threads, s.device);
    } catch (e) {
      throw fromNative(e);
    }
    if (s.signal?.aborted) {
      handle.dispose();
      throwIfAborted(s.signal);
    }
    return new VisionEncoder(handle);
  }

  /** Floats one tile occupies in the input: 3 · imageSize². */
  get floatsPerTile(): number {
    return 3 * this.info.imageSize * this.info.imageSize;
  }

  /**
   * Encodes `count` tiles given as planar f32 [count, 3, S, S] (already normalized) into
   * [count · tokensPerTile, embeddingWidth] embeddings, tile-major. All tiles run in one graph.
   */
  async encode(tiles: Float32Array, count: number, options: EncodeOptions = {}): Promise<Float32Array> {
    this.live();
    if (!isFloat32Array(tiles)) throw new InvalidArgumentError('tiles must be a Float32Array');
    if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError(`count must be a positive integer (got ${count})`);
    const want = count * this.floatsPerTile;
    if (tiles.length !== want) {
      throw new InvalidArgumentError(
        `tiles holds ${tiles.length} floats; ${count} tile(s) of 3x${this.info.imageSize}x${this.info.imageSize} need ${want}`,
      );
    }
    return this.queue.run(async () => {
      throwIfAborted(options.signal);
      const cancel = cancelTokenFor(options.signal);
      try {
        return await this.live().encode(tiles, count, cancel.token);
      } catch (e) {
        throw fromNative(e);
      } finally {
        cancel.release();
      }
    });
  }

  /** Compute memory (bytes) one encode of `count` tiles needs, besides the weights. */
  async computeBytes(count: number): Promise<number> {
    try {
      return await this.live().computeBytes(count);
    } catch (e) {
      throw fromNative(e);
    }
  }

  get disposed(): boolean {
    return this.handle === undefined;
  }

  /** Frees the weights (after any encode in flight finishes). Safe to call twice. */
  dispose(): void {
    this.handle?.dispose();
    this.handle = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  private live(): NativeVisionEncoder {
    if (!this.handle) throw new DisposedError('the vision encoder has been disposed');
    return this.handle;
  }
}
