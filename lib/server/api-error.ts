// Errors as the OpenAI API gives them: an HTTP status and `{error: {message, type, param, code}}`,
// so official clients raise their own typed errors (BadRequestError, AuthenticationError, ...).
import { MiniMonkeyError } from '../errors';

export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_error' | 'overloaded_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Extra response headers (Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = 'invalid_value') =>
  new ApiError(400, 'invalid_request_error', message, code, param);

// Failures that are the request's fault are 400 with the library's code; the rest are the server's.
const CLIENT_CODES = new Set(['INVALID_ARGUMENT', 'IMAGE', 'PDF', 'CONTEXT_OVERFLOW', 'UNSUPPORTED', 'INCOMPLETE']);

/** Any error thrown while answering, as the response the client gets. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof MiniMonkeyError) {
    if (CLIENT_CODES.has(e.code)) {
      const code = e.code === 'CONTEXT_OVERFLOW' ? 'context_length_exceeded' : e.code.toLowerCase();
      return new ApiError(400, 'invalid_request_error', e.message, code);
    }
    if (e.code === 'ABORTED') return new ApiError(499, 'invalid_request_error', 'the client closed the request', 'aborted');
    if (e.code === 'DISPOSED') return new ApiError(503, 'server_error', 'the server is shutting down', 'shutting_down');
    return new ApiError(500, 'server_error', e.message, e.code.toLowerCase());
  }
  return new ApiError(500, 'server_error', 'internal error', 'internal');
}
