// Typed errors of the package. Every failure a user can see is one of these, with a stable
// `code`; native failures arrive with the same codes and are mapped here.

export type MiniMonkeyErrorCode =
  | 'INVALID_ARGUMENT'
  | 'MODEL_LOAD'
  | 'PROJECTOR_MISMATCH'
  | 'IMAGE'
  | 'CONTEXT_OVERFLOW'
  | 'ABORTED'
  | 'DISPOSED'
  | 'BUSY'
  | 'OUT_OF_MEMORY'
  | 'UNSUPPORTED'
  | 'NATIVE_LOAD'
  | 'UNSUPPORTED_CPU'
  | 'IO'
  | 'INCOMPLETE'
  | 'DOWNLOAD'
  | 'CHECKSUM'
  | 'PDF'
  | 'WORKER'
  | 'MISSING_DEPENDENCY'
  | 'INTERNAL';

export class MiniMonkeyError extends Error {
  readonly code: MiniMonkeyErrorCode;
  constructor(code: MiniMonkeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A feature needs an npm package that is optional (the queue's bullmq and ioredis, the source
 * build's cmake-js): the message names the packages and the command that adds them.
 */
export class MissingDependencyError extends MiniMonkeyError {
  readonly packages: string[];
  constructor(feature: string, packages: string[], options?: { cause?: unknown }) {
    super('MISSING_DEPENDENCY', `${feature} needs the npm package${packages.length > 1 ? 's' : ''} ${packages.join(' and ')}, which minimonkey does not install by default: npm install ${packages.join(' ')}`, options);
    this.packages = packages;
  }
}

/** Bad argument: wrong type, shape, length or option value. */
export class InvalidArgumentError extends MiniMonkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}
/** A model file is missing, unreadable, malformed, or not the kind expected. */
export class ModelLoadError extends MiniMonkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_LOAD', message, options);
  }
}
/** The operation was cancelled through an AbortSignal. */
export class AbortError extends MiniMonkeyError {
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}
/** The object was used after dispose(). */
export class DisposedError extends MiniMonkeyError {
  constructor(message: string) {
    super('DISPOSED', message);
  }
}
/** Valid input that this build does not support (tensor type, architecture, CPU). */
export class UnsupportedError extends MiniMonkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNSUPPORTED', message, options);
  }
}
/** The CPU lacks instructions the native binary needs; it was not loaded (it would crash). */
export class UnsupportedCpuError extends MiniMonkeyError {
  constructor(message: string) {
    super('UNSUPPORTED_CPU', message);
  }
}
/** Writing an output file failed: disk full, file size limit, permissions, read-only folder. */
export class IoError extends MiniMonkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IO', message, options);
  }
}
/**
 * A structured answer (model.extract) ended before its JSON was complete: maxTokens or the context
 * ran out. `result` is the ask's result, text so far included.
 */
export class IncompleteError extends MiniMonkeyError {
  readonly result: unknown;
  constructor(message: string, result: unknown) {
    super('INCOMPLETE', message);
    this.result = result;
  }
}
/**
 * A download from the Hugging Face Hub (or a mirror) failed: the repo, revision or file does not
 * exist, access was refused (a gated or private repo without HF_TOKEN), or the connection kept
 * failing. `status` is the HTTP status when the server answered.
 */
export class DownloadError extends MiniMonkeyError {
  readonly status?: number;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('DOWNLOAD', message, options);
    this.status = status;
  }
}
/** A downloaded file's content does not match the hash the hub gave for it; it was deleted. */
export class ChecksumError extends MiniMonkeyError {
  constructor(message: string) {
    super('CHECKSUM', message);
  }
}
/** Why an image could not be used; the message says it in words. */
export type ImageErrorReason = 'unreadable' | 'corrupt' | 'empty' | 'unsupported' | 'too-large' | 'bad-pixels';

/**
 * An image input that cannot be used: missing or unreadable file, corrupt or truncated bytes, zero
 * size, an unsupported format, over the pixel limit, or raw pixels of the wrong shape.
 */
export class ImageError extends MiniMonkeyError {
  /** Undefined when the error came from the addon. */
  readonly reason?: ImageErrorReason;
  constructor(message: string, reason?: ImageErrorReason, options?: { cause?: unknown }) {
    super('IMAGE', message, options);
    this.reason = reason;
  }
}
/**
 * Why a PDF page could not be rendered; the message says it in words. `too-large`: the page, an
 * image in it or a decoded stream is over its limit (the message names the option);
 * `out-of-memory`: the renderer could not get the memory (an address-space limit, a full machine).
 */
export type PdfErrorReason = 'encrypted' | 'wrong-password' | 'corrupt' | 'page-range' | 'too-large' | 'out-of-memory' | 'unreadable' | 'empty' | 'unsupported';

/**
 * A PDF input that cannot be rendered: a password is needed (or was wrong), the file is corrupt or
 * not a PDF, the page is not in the document, or the page would exceed the pixel limit.
 * `pages` is the document's page count when it is known.
 */
export class PdfError extends MiniMonkeyError {
  readonly reason: PdfErrorReason;
  readonly pages?: number;
  constructor(message: string, reason: PdfErrorReason, options?: { cause?: unknown; pages?: number }) {
    super('PDF', message, options);
    this.reason = reason;
    this.pages = options?.pages;
  }
}
/** The prompt (text and image tokens) does not fit the context; says how many tokens it needs. */
export class ContextOverflowError extends MiniMonkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONTEXT_OVERFLOW', message, options);
  }
}
/** The text model and the vision projector do not belong together. */
export class ProjectorMismatchError extends MiniMonkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROJECTOR_MISMATCH', message, options);
  }
}
/** The native addon could not be loaded. */
export class NativeLoadError extends MiniMonkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NATIVE_LOAD', message, options);
  }
}

/** Turns an error thrown by the addon into the matching typed error. */
export function fromNative(err: unknown): Error {
  if (err instanceof MiniMonkeyError) return err;
  // Duck-typed: errors made by the addon may come from another realm (vm contexts, test runners)
  // where `instanceof Error` is false.
  if (typeof err !== 'object' || err === null || typeof (err as Error).message !== 'string') {
    return new MiniMonkeyError('INTERNAL', String(err));
  }
  return fromCoded(err as Error & { code?: unknown });
}

function fromCoded(err: Error & { code?: unknown }): Error {
  const code = err.code;
  const opts = { cause: err };
  switch (code) {
    case 'INVALID_ARGUMENT': return new InvalidArgumentError(err.message, opts);
    case 'MODEL_LOAD': return new ModelLoadError(err.message, opts);
    case 'ABORTED': return new AbortError(err.message, opts);
    case 'DISPOSED': return new DisposedError(err.message);
    case 'UNSUPPORTED': return new UnsupportedError(err.message, opts);
    case 'UNSUPPORTED_CPU': return new UnsupportedCpuError(err.message);
    case 'IO': return new IoError(err.message, opts);
    case 'IMAGE': return new ImageError(err.message, undefined, opts);
    case 'CONTEXT_OVERFLOW': return new ContextOverflowError(err.message, opts);
    case 'PROJECTOR_MISMATCH': return new ProjectorMismatchError(err.message, opts);
    case 'BUSY': case 'OUT_OF_MEMORY': case 'INTERNAL':
      return new MiniMonkeyError(code, err.message, opts);
    default:
      // TypeErrors from argument checks in the addon keep their class.
      return err;
  }
}
