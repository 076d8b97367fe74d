// minimonkey's public surface.
export * from './errors';
export { runtimeInfo } from './runtime';
export type { RuntimeInfo } from './runtime';
export type { NativeDeviceInfo as DeviceInfo, NativeBackendModule as BackendModuleInfo } from './native';
export type { DeviceOption } from './devices';
export { backendPackageName } from './devices';

// The vision tower and the image path into it.
export { VisionEncoder } from './vision/encoder';
export type { VisionEncoderInfo, VisionEncoderLoadOptions, EncodeOptions } from './vision/encoder';
export { preprocessRgb, IMAGENET_MEAN, IMAGENET_STD } from './vision/preprocess';
export type { PreprocessOptions, Preprocessed } from './vision/preprocess';
export { encodeImage } from './vision/encode-image';
export type { EncodedImage, EncodeImageOptions } from './vision/encode-image';
export { resizeRGB } from './image/resize';
export { loadImage, DEFAULT_MAX_PIXELS } from './image/load';
export type { ImageInput, RawPixels, LoadImageOptions, PdfPageInput, RgbImage } from './image/load';
export { renderPdfPage, pdfPageCount } from './pdf/render';
export type { PdfRenderOptions, RenderedPage, PdfSource } from './pdf/render';
export { autoDpi } from './pdf/dpi';
export { parsePages, expandPages } from './pdf/pages';
export type { PageList } from './pdf/pages';
export type { BatchOptions } from './batch/run';
export type { BatchResult, BatchTask } from './batch/task';
export { readJsonl, doneKeys } from './batch/jsonl';
export { preprocess } from './vision/preprocess';
export type { PreprocessImageOptions } from './vision/preprocess';

// The model pair, chat sessions and the language model on its own.
export { MiniMonkey } from './model';
export type { IsolatedMiniMonkey, IsolatedSession, IsolateSettings } from './isolate/isolated-model';
export type { MiniMonkeyLoadOptions, MiniMonkeyEncodeImageOptions } from './model';
export { ChatSession } from './llm/session';
export type { PageCacheOptions } from './page-cache/page-cache';
export type { AskOptions, AskResult, AskProgress, ChatOptions, Content, ContentPart, FinishReason } from './llm/session';
export type { ReplyStream } from './llm/reply-stream';
export type { SamplingOptions } from './llm/sampling';
export type { JsonSchema } from './llm/json-schema';
export { schemaToGrammar } from './llm/json-schema';
export type { ExtractOptions } from './llm/extract';
export { extractionQuestion } from './llm/extract';
export { TextModel } from './llm/text-model';
export type { TextModelInfo, TextModelLoadOptions, TokenizeOptions } from './llm/text-model';
export { DEFAULT_SYSTEM_MESSAGE } from './llm/prompt';
export { ScmPrepass } from './llm/scm-prepass';
export type { ScmBlock, ScmRunOptions, ScmScores } from './llm/scm-prepass';
export type { ScmOptions, ScmReport, ScmImageReport } from './llm/scm';
export { renderScmHeatmap, scmHeatmapCells } from './llm/scm-heatmap';
export type { ScmHeatmapCell, RenderScmHeatmapOptions } from './llm/scm-heatmap';
export { MiniMonkeyServer } from './server/server';
export type { ServeOptions } from './server/server';

// MSAC crop planning (pure functions).
export { planCrops, PRESETS, PRESET_NAMES, isPresetName, candidateRatios, CropOptionsError } from './msac';
export type { PresetName, CropOptions, CropPlan, Grid, TileLayer, TileSpec, LayerRange } from './msac';
export { renderCropPlan, cropPlanLayout, cropPlanCaption, CROP_PLAN_COLOURS } from './msac/render';
export type { RenderCropPlanOptions, CropPlanLayout } from './msac/render';

// Converting a Hugging Face checkpoint to the GGUF pair.
export { convertCheckpoint } from './convert/convert';
export type { ConvertOptions, ConvertProgress, ConvertResult } from './convert/convert';
export type { TextQuant, VisionQuant } from './convert/quant-rules';

// Getting a model: the Hugging Face Hub, the cache folder, hf:owner/name.
export { pullModel } from './hub/pull';
export type { PullOptions, PullProgress, PullResult } from './hub/pull';
export { minimonkeyHome, resolvePulledModel } from './hub/home';
export type { PulledModel } from './hub/home';

// The model-family table: what differs between Mini-Monkey / InternVL2 and InternVL2.5 / InternVL3.
export { FAMILIES, FAMILY_NAMES, TEXT_ARCHS, detectFamily, INTERNVL2_SYSTEM_MESSAGE, INTERNVL2_5_SYSTEM_MESSAGE } from './family';
export type { ModelFamily, FamilyName, TextArch, TextArchFacts } from './family';
