// One file of a repo, downloaded so that nothing half-written is ever at its destination: bytes go
// to partial/<hash>.incomplete (kept when the download is interrupted, so the next try resumes with
// a range request), the whole file is checked against the hash the hub gave (sha256 for LFS files,
// the git blob sha1 otherwise), and only then renamed to the destination. A connection cut resumes
// where it stopped, a few times; a wrong hash deletes the bytes and fails.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { fileDownloadInfo } from '@huggingface/hub';
import { AbortError, ChecksumError, DownloadError } from '../errors';
import { ioError } from '../util/io-error';
import { beginOutput } from '../util/safe-write';
import { HubClient, hubError, RangeIgnored } from './client';
import { hubLib } from './hub-lib';

export interface RemoteFile {
  path: string;
  size: number;
  /** LFS files: the sha256 of the content. */
  sha256?: string;
  /** The git blob id (sha1 of "blob <size>\0" + content); the check for files outside LFS. */
  gitOid?: string;
}

export interface FileDownload {
  repo: string;
  commit: string;
  file: RemoteFile;
  dest: string;
  partialDir: string;
  signal?: AbortSignal;
  /** Bytes of this file now on disk (resumed bytes count at once). */
  onBytes?: (bytes: number) => void;
}


/** Attempts per file: a connection cut costs one, and the next resumes where the last stopped. */
const ATTEMPTS = 5;

function hasher(f: RemoteFile): { update(b: Uint8Array): void; check(): string | undefined } {
  if (f.sha256) {
    const h = crypto.createHash('sha256');
    return { update: (b) => h.update(b), check: () => { const d = h.digest('hex'); return d === f.sha256 ? undefined : `sha256 ${d}, expected ${f.sha256}`; } };
  }
  if (f.gitOid) {
    const h = crypto.createHash('sha1').update(`blob ${f.size}\0`);
    return { update: (b) => h.update(b), check: () => { const d = h.digest('hex'); return d === f.gitOid ? undefined : `git blob ${d}, expected ${f.gitOid}`; } };
  }
  return { update: () => {}, check: () => undefined };
}

async function hashFile(file: string, h: { update(b: Uint8Array): void }): Promise<number> {
  let n = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    n += (chunk as Buffer).length;
  }
  return n;
}

/** True when `dest` already holds exactly this file (size and hash). */
export async function alreadyHave(dest: string, f: RemoteFile): Promise<boolean> {
  let st: fs.Stats;
  try {
    st = fs.statSync(dest);
  } catch {
    return false;
  }
  if (!st.isFile() || st.size !== f.size) return false;
  const h = hasher(f);
  await hashFile(dest, h);
  return h.check() === undefined;
}

export function partialPath(partialDir: string, f: RemoteFile): string {
  const key = f.sha256 ?? f.gitOid ?? crypto.createHash('sha256').update(f.path).digest('hex');
  return path.join(partialDir, `${key}.incomplete`);
}

const sizeOf = (file: string) => {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
};

export async function downloadOne(client: HubClient, d: FileDownload): Promise<void> {
  const { file: f, signal } = d;
  const what = `${d.repo}/${f.path}`;
  if (await alreadyHave(d.dest, f)) {
    d.onBytes?.(f.size);
    return;
  }
  try {
    fs.mkdirSync(d.partialDir, { recursive: true });
  } catch (e) {
    throw ioError(e, 'create the folder', d.partialDir);
  }
  const partial = partialPath(d.partialDir, f);
  let info: Awaited<ReturnType<typeof fileDownloadInfo>>;
  try {
    client.clearFailure();
    info = await (await hubLib()).fileDownloadInfo({ repo: d.repo, path: f.path, revision: d.commit, hubUrl: client.hubUrl, accessToken: client.accessToken, fetch: client.fetch });
  } catch (e) {
    throw aborted(signal, e) ?? hubError(e, what, client);
  }
  if (!info) throw new DownloadError(`${what}: not found at ${d.commit}`, 404);
  if (info.size !== f.size) throw new DownloadError(`${what}: the hub lists ${f.size} bytes but serves ${info.size}`);
  const etag = info.etag.replace(/^W\//, '').replace(/"/g, '');
  if (f.sha256 && /^[0-9a-f]{64}$/.test(etag) && etag !== f.sha256) {
    throw new ChecksumError(`${what}: the hub's ETag ${etag} is not the listed sha256 ${f.sha256}`);
  }

  let lastError: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (signal?.aborted) throw new AbortError();
    let offset = sizeOf(partial);
    if (offset > f.size) {
      fs.rmSync(partial, { force: true });
      offset = 0;
    }
    try {
      await fetchInto(client, d, info, partial, offset);
      lastError = undefined;
      break;
    } catch (e) {
      const stop = aborted(signal, e);
      if (stop) throw stop;
      if (e instanceof RangeIgnored || client.rangeIgnored) {
        fs.rmSync(partial, { force: true }); // start over from byte 0
      } else {
        const status = client.lastFailure?.status;
        if (status !== undefined && status < 500 && status !== 408 && status !== 429) throw hubError(e, what, client);
      }
      lastError = e;
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  if (lastError !== undefined) throw hubError(lastError, `${what}: gave up after ${ATTEMPTS} tries (run pull again to resume)`, client);
  await verifyAndPlace(partial, d, what);
}

/** Appends the rest of the file (from `offset`) to `partial`. */
async function fetchInto(client: HubClient, d: FileDownload, info: NonNullable<Awaited<ReturnType<typeof fileDownloadInfo>>>, partial: string, offset: number): Promise<void> {
  d.onBytes?.(offset);
  if (offset === d.file.size) return;
  client.clearFailure();
  const blob = await (await hubLib()).downloadFile({
    repo: d.repo, path: d.file.path, revision: d.commit, hubUrl: client.hubUrl, accessToken: client.accessToken, fetch: client.fetch, downloadInfo: info,
  });
  if (!blob) throw new DownloadError(`${d.repo}/${d.file.path}: not found at ${d.commit}`, 404);
  const stream = (offset > 0 ? blob.slice(offset) : blob).stream();
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(partial, 'a');
  } catch (e) {
    throw ioError(e, 'write', partial);
  }
  let written = offset;
  try {
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      if (written + chunk.length > d.file.size) throw new DownloadError(`${d.repo}/${d.file.path}: the server sent more than ${d.file.size} bytes`);
      try {
        await fh.write(chunk);
      } catch (e) {
        throw ioError(e, 'write', partial);
      }
      written += chunk.length;
      d.onBytes?.(written);
    }
  } finally {
    await fh.close();
  }
  if (written !== d.file.size) throw new Error(`the connection ended after ${written} of ${d.file.size} bytes`);
}

async function verifyAndPlace(partial: string, d: FileDownload, what: string): Promise<void> {
  const h = hasher(d.file);
  const n = await hashFile(partial, h);
  const bad = n !== d.file.size ? `${n} bytes, expected ${d.file.size}` : h.check();
  if (bad) {
    fs.rmSync(partial, { force: true });
    throw new ChecksumError(`${what}: the downloaded file does not match the hub's hash (${bad}); it was deleted, pull again`);
  }
  try {
    fs.mkdirSync(path.dirname(d.dest), { recursive: true });
  } catch (e) {
    throw ioError(e, 'create the folder', path.dirname(d.dest));
  }
  try {
    fs.renameSync(partial, d.dest);
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw ioError(e, 'write', d.dest);
  }
  // Another file system (--out elsewhere): copy beside the destination, then rename there.
  const out = beginOutput(d.dest);
  try {
    fs.copyFileSync(partial, out.tmp);
    out.commit();
    fs.rmSync(partial, { force: true });
  } catch (e) {
    out.discard();
    throw ioError(e, 'write', d.dest);
  }
}

function aborted(signal: AbortSignal | undefined, e: unknown): AbortError | undefined {
  if (!signal?.aborted) return undefined;
  return e instanceof AbortError ? e : new AbortError('the download was stopped (run pull again to resume)', { cause: e });
}
