// fetch with a bound on every wait: the response headers (connect and first byte) within
// `responseMs`, and then at least `idleBytes` of body in each `idleMs` spent waiting on the network
// (a stall and a trickle both fail; a slow consumer between reads does not count). undici alone
// waits 300 s for headers and forever for a trickling body. The caller's signal is linked to each request and
// unlinked when its body ends (an abort listener per request left behind grew without bound).
import { DownloadError, InvalidArgumentError } from '../errors';
import { HUB_LIMITS } from '../limits';

export interface HubTimeouts {
  /** Milliseconds to the response headers: connect and first byte (default 30,000). */
  responseMs?: number;
  /** Milliseconds a response body may send nothing (default 60,000). */
  idleMs?: number;
}

/** `t` checked against HUB_LIMITS, defaults filled in. */
export function settleTimeouts(t: HubTimeouts | undefined): Required<HubTimeouts> {
  if (t !== undefined && (typeof t !== 'object' || t === null)) throw new InvalidArgumentError('timeouts must be an object {responseMs, idleMs}');
  const one = (name: 'responseMs' | 'idleMs'): number => {
    const v = t?.[name];
    const l = HUB_LIMITS[name];
    if (v === undefined) return l.default;
    if (!Number.isSafeInteger(v) || v < l.min || v > l.max) throw new InvalidArgumentError(`timeouts.${name} must be an integer from ${l.min} to ${l.max} (milliseconds)`);
    return v;
  };
  return { responseMs: one('responseMs'), idleMs: one('idleMs') };
}

/** Statuses whose Response may not carry a body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** The URL a fetch call names, whichever form it was given in. */
export const urlOf = (input: Parameters<typeof fetch>[0]) => (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);

export function timedFetch(timeouts: Required<HubTimeouts>, signal: AbortSignal | undefined): typeof fetch {
  return async (input, init) => {
    const url = urlOf(input);
    const ctl = new AbortController();
    const outer = [signal, init?.signal ?? undefined].filter((s): s is AbortSignal => s !== undefined);
    const onAbort = (ev: Event) => ctl.abort((ev.target as AbortSignal).reason);
    for (const s of outer) {
      if (s.aborted) ctl.abort(s.reason);
      else s.addEventListener('abort', onAbort);
    }
    let timer: NodeJS.Timeout | undefined;
    let timedOut: DownloadError | undefined;
    const arm = (ms: number, what: string, option: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = new DownloadError(`${url}: the hub ${what} (timeouts.${option})`);
        ctl.abort(timedOut);
      }, ms);
    };
    const done = () => {
      clearTimeout(timer);
      for (const s of outer) s.removeEventListener('abort', onAbort);
    };
    arm(timeouts.responseMs, `did not answer within ${timeouts.responseMs} ms`, 'responseMs');
    let resp: Response;
    try {
      resp = await fetch(input, { ...init, signal: ctl.signal });
    } catch (e) {
      done();
      throw timedOut ?? e;
    }
    clearTimeout(timer);
    if (!resp.body || NULL_BODY.has(resp.status)) {
      done();
      return resp;
    }
    const reader = resp.body.getReader();
    const minBytes = HUB_LIMITS.idleBytes.default;
    let waited = 0;
    let got = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        arm(timeouts.idleMs - waited, `sent under ${minBytes} bytes in ${timeouts.idleMs} ms`, 'idleMs');
        const start = Date.now();
        try {
          const r = await reader.read();
          clearTimeout(timer);
          waited += Date.now() - start;
          if (r.done) {
            done();
            c.close();
            return;
          }
          got += r.value.length;
          if (got >= minBytes) waited = got = 0; // a new window
          c.enqueue(r.value);
        } catch (e) {
          done();
          c.error(timedOut ?? e);
        }
      },
      cancel(reason) {
        done();
        return reader.cancel(reason);
      },
    });
    return withBody(resp, body);
  };
}

/** `resp` with another body stream, the same status, headers, url and redirected. */
export function withBody(resp: Response, body: ReadableStream<Uint8Array>): Response {
  const out = new Response(body, { status: resp.status, statusText: resp.statusText, headers: resp.headers });
  // The client reads where a redirect led (resp.url) and whether one happened.
  Object.defineProperty(out, 'url', { value: resp.url });
  Object.defineProperty(out, 'redirected', { value: resp.redirected });
  return out;
}
