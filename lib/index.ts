// minimonkey's public surface.
export * from './errors';
export { runtimeInfo } from './runtime';
export type { RuntimeInfo } from './runtime';
export { VisionEncoder } from './vision/encoder';
export type { VisionEncoderInfo, VisionEncoderLoadOptions, EncodeOptions } from './vision/encoder';
