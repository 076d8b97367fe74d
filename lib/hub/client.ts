// The Hugging Face Hub as @huggingface/hub speaks it (the hub's URL and API layout, redirects,
// LFS/xet), with what minimonkey adds around each request: HF_ENDPOINT and HF_TOKEN from the
// environment, the caller's AbortSignal on every request, a record of the last failed status (a
// body stream that fails loses it), a byte bound on an error's body (the library reads it whole),
// and a check that a ranged request got the range it asked for.
import { DownloadError, InvalidArgumentError } from '../errors';
import { capAnswer } from './capped-body';
import { HubTimeouts, settleTimeouts, timedFetch, urlOf } from './timed-fetch';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubOptions {
  /** The hub or a mirror (default: $HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** An access token for gated or private repos (default: $HF_TOKEN, else none). */
  token?: string;
  /** Bounds on every hub request: to the response headers, and between body chunks (HUB_LIMITS). */
  timeouts?: HubTimeouts;
}

/** A server that answered a ranged request with the whole file (200) or another range. */
export class RangeIgnored extends Error {}

export interface HubClient {
  hubUrl: string;
  accessToken: string | undefined;
  /** fetch with the signal and the checks above; give it to every @huggingface/hub call. */
  fetch: typeof fetch;
  /** The last response with a status >= 400 (cleared with `clearFailure`). */
  lastFailure: { status: number; url: string } | undefined;
  /** Set when a ranged request got another range or the whole file (WebBlob.stream turns errors into strings). */
  rangeIgnored: boolean;
  clearFailure(): void;
}

export function hubClient(o: HubOptions, signal: AbortSignal | undefined, env: NodeJS.ProcessEnv = process.env): HubClient {
  const endpoint = (o.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidArgumentError(`the hub endpoint '${endpoint}' is not a URL (HF_ENDPOINT or endpoint)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidArgumentError(`the hub endpoint '${endpoint}' must be http(s)`);
  const token = o.token ?? (env.HF_TOKEN || undefined);
  if (token !== undefined && (typeof token !== 'string' || !token.startsWith('hf_'))) {
    throw new InvalidArgumentError('a Hugging Face token starts with hf_ (HF_TOKEN or token)');
  }
  const bounded = timedFetch(settleTimeouts(o.timeouts), signal);
  const client: HubClient = {
    hubUrl: endpoint,
    accessToken: token,
    lastFailure: undefined,
    rangeIgnored: false,
    clearFailure() {
      client.lastFailure = undefined;
      client.rangeIgnored = false;
    },
    fetch: async (input, init) => {
      let resp = await bounded(input, init);
      if (resp.status >= 400) {
        client.lastFailure = { status: resp.status, url: resp.url };
        resp = await capAnswer(resp, urlOf(input), `error body (${resp.status})`); // the library reads it whole
      }
      const range = headerOf(init?.headers, 'range');
      const start = range ? /^bytes=(\d+)-/.exec(range)?.[1] : undefined;
      if (start !== undefined && Number(start) > 0 && resp.ok) {
        const got = /^bytes (\d+)-/.exec(resp.headers.get('content-range') ?? '')?.[1];
        if (resp.status !== 206 || got !== start) {
          await resp.body?.cancel();
          client.rangeIgnored = true;
          throw new RangeIgnored(`asked for bytes from ${start}, got ${resp.status === 206 ? `bytes from ${got}` : 'the whole file'}`);
        }
      }
      return resp;
    },
  };
  return client;
}

function headerOf(h: RequestInit['headers'], name: string): string | undefined {
  if (!h) return undefined;
  return new Headers(h as ConstructorParameters<typeof Headers>[0]).get(name) ?? undefined;
}

/** A failed hub call as a DownloadError saying what to do. */
export function hubError(e: unknown, what: string, client: HubClient): Error {
  if (e instanceof DownloadError || e instanceof InvalidArgumentError) return e;
  const status = (e as { statusCode?: number })?.statusCode ?? client.lastFailure?.status;
  const detail = e instanceof Error ? e.message : String(e);
  if (status === 401 || status === 403) {
    const hint = client.accessToken ? 'the token in HF_TOKEN has no access to it (accept the license on its page?)' : 'it is gated or private: set HF_TOKEN to a token that has access';
    return new DownloadError(`${what}: access refused (${status}): ${hint}`, status, { cause: e });
  }
  if (status === 404) return new DownloadError(`${what}: not found on ${client.hubUrl} (404): check the repo name and revision`, status, { cause: e });
  if (status !== undefined) return new DownloadError(`${what}: the hub answered ${status}: ${detail}`, status, { cause: e });
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return new DownloadError(`${what}: ${detail}${cause?.message ? ` (${cause.message})` : ''}`, undefined, { cause: e });
}
