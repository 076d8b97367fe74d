// Typed errors across a process boundary: the child sends code, message and the fields a class
// adds (an image's reason, a PDF's page count, an incomplete answer's result); the parent makes
// the same class again, so `instanceof` and `code` behave as in one process.
import {
  ChecksumError, DownloadError, fromNative, ImageError, ImageErrorReason, IncompleteError, MiniMonkeyError, MissingDependencyError, MiniMonkeyErrorCode,
  PdfError, PdfErrorReason,
} from '../errors';

const KNOWN = new Set<string>([
  'INVALID_ARGUMENT', 'MODEL_LOAD', 'PROJECTOR_MISMATCH', 'IMAGE', 'CONTEXT_OVERFLOW', 'ABORTED', 'DISPOSED', 'BUSY', 'OUT_OF_MEMORY',
  'UNSUPPORTED', 'NATIVE_LOAD', 'UNSUPPORTED_CPU', 'IO', 'INCOMPLETE', 'DOWNLOAD', 'CHECKSUM', 'PDF', 'WORKER', 'MISSING_DEPENDENCY', 'INTERNAL',
] satisfies MiniMonkeyErrorCode[]);

export interface ErrorRecord {
  code?: string;
  message: string;
  reason?: string;
  pages?: number;
  status?: number;
  packages?: string[];
  result?: unknown;
}

export function toRecord(e: unknown): ErrorRecord {
  if (typeof e !== 'object' || e === null) return { message: String(e) };
  const x = e as Partial<ErrorRecord> & { message?: unknown; code?: unknown };
  const r: ErrorRecord = { message: typeof x.message === 'string' ? x.message : String(e) };
  if (typeof x.code === 'string') r.code = x.code;
  if (typeof x.reason === 'string') r.reason = x.reason;
  if (typeof x.pages === 'number') r.pages = x.pages;
  if (typeof x.status === 'number') r.status = x.status;
  if (Array.isArray(x.packages)) r.packages = x.packages.map(String);
  if (x.result !== undefined) {
    try {
      r.result = structuredClone(x.result);
    } catch {
      // a result that cannot be copied stays behind; the message still says what happened
    }
  }
  return r;
}

export function fromRecord(r: ErrorRecord): Error {
  switch (r.code) {
    case 'IMAGE': return new ImageError(r.message, r.reason as ImageErrorReason | undefined);
    case 'PDF': return new PdfError(r.message, (r.reason ?? 'corrupt') as PdfErrorReason, { pages: r.pages });
    case 'INCOMPLETE': return new IncompleteError(r.message, r.result);
    case 'DOWNLOAD': return new DownloadError(r.message, r.status);
    case 'CHECKSUM': return new ChecksumError(r.message);
    case 'MISSING_DEPENDENCY': {
      const e = new MissingDependencyError('', r.packages ?? []);
      e.message = r.message;
      return e;
    }
    case undefined: return new MiniMonkeyError('INTERNAL', r.message);
    default: {
      if (!KNOWN.has(r.code)) return new MiniMonkeyError('INTERNAL', r.message);  // a Node error (ENOENT...) that escaped typing
      const e = fromNative(Object.assign(new Error(r.message), { code: r.code }));
      return e instanceof MiniMonkeyError ? e : new MiniMonkeyError(r.code as MiniMonkeyErrorCode, r.message);
    }
  }
}
