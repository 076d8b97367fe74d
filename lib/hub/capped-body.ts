// A hub answer that @huggingface/hub reads whole (`res.json()`, `res.text()`: a listing page, the
// model info, an error's body), bounded in bytes as it streams: an endless or 100 MB answer fails
// at the bound instead of being buffered until memory runs out. A Content-Length over the bound
// fails before any byte is read.
import { DownloadError } from '../errors';
import { HUB_LIMITS } from '../limits';
import { urlOf, withBody } from './timed-fetch';

/** `resp` whose body fails with `tooLarge()` once more than `maxBytes` have come. */
export async function capBody(resp: Response, maxBytes: number, tooLarge: () => DownloadError): Promise<Response> {
  if (!resp.body) return resp;
  const declared = Number(resp.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await resp.body.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const reader = resp.body.getReader();
  let got = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const r = await reader.read();
        if (r.done) return c.close();
        got += r.value.length;
        if (got > maxBytes) {
          const e = tooLarge();
          await reader.cancel(e).catch(() => undefined); // closes the connection: no more bytes come
          return c.error(e);
        }
        c.enqueue(r.value);
      } catch (e) {
        c.error(e);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return withBody(resp, body);
}

/** `resp` (from `url`) capped at HUB_LIMITS.answerBytes; `what` names the answer in the error. */
export function capAnswer(resp: Response, url: string, what: string): Promise<Response> {
  const max = HUB_LIMITS.answerBytes.default;
  return capBody(resp, max, () => new DownloadError(`${url}: the hub's ${what} is larger than ${max} bytes (HUB_LIMITS.answerBytes)`));
}

/** `f` whose answers are capped as capAnswer says. */
export function cappedFetch(f: typeof fetch, what: string): typeof fetch {
  return async (input, init) => capAnswer(await f(input, init), urlOf(input), what);
}
