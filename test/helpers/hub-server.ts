// A Hugging Face Hub on loopback, for pull's tests: the hub's own URL and API layout as
// @huggingface/hub requests it (src/lib/model-info.ts, list-files.ts, file-download-info.ts,
// utils/WebBlob.ts), serving synthetic repos from memory:
//   GET /api/models/{owner}/{name}/revision/{rev}?expand=…   model info with `sha`, X-Repo-Commit
//   GET /api/models/{owner}/{name}/tree/{rev}?recursive=…    file list (oid, size, lfs.oid = sha256), paged with Link: rel="next"
//   GET /{owner}/{name}/resolve/{rev}/{path}                 LFS files: 302 to /cdn/{sha256} (X-Linked-Etag,
//                                                            X-Linked-Size, X-Repo-Commit); others served at once (ETag = git blob id)
//   GET /cdn/{sha256}                                        the bytes, ETag = sha256, Range → 206
// Gated repos answer 401 without `Authorization: Bearer <token>`. Faults a test can switch on:
// cut a file's connection mid-body once, serve wrong bytes under the right hash, stall a file
// after some bytes, ignore Range, never answer some paths.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRepo {
  /** owner/name */
  id: string;
  commit: string;
  /** Branch and tag names → the commit. */
  refs?: Record<string, string>;
  files: Record<string, Buffer>;
  /** Files above this size are LFS (default 1024 bytes, like small text files outside LFS). */
  lfsAbove?: number;
  /** A token the repo requires (a gated repo). */
  token?: string;
  /** Overrides of the sizes the tree lists (to make a repo look too big for the disk). */
  listedSize?: Record<string, number>;
}

export interface Faults {
  /** Cut the connection once per file after this many body bytes of a non-probe GET. */
  cutOnce?: Record<string, number>;
  /** Serve these files with their last byte changed (the listed hash stays the true one). */
  corrupt?: Set<string>;
  /** Send this many body bytes of the file, then hold the connection open. */
  stall?: Record<string, number>;
  /** Answer range requests that do not start at byte 0 with the whole file (200). */
  ignoreResumeRange?: boolean;
  /** Accept requests whose path matches and never answer them (a hub that hangs). */
  noAnswer?: RegExp;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
  /** Which server answered: the hub or the CDN's own origin. */
  origin?: 'hub' | 'cdn';
}

export const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
export const gitBlobId = (b: Buffer) => crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export class HubServer {
  readonly log: LoggedRequest[] = [];
  faults: Faults = {};
  /** Tree entries per page (the hub pages at 1,000; small here to test the Link header). */
  pageSize = 3;
  private readonly repos = new Map<string, HubRepo>();
  private readonly cut = new Set<string>();
  private readonly held = new Set<http.ServerResponse>();
  private server!: http.Server;
  private cdnServer!: http.Server;
  url = '';
  /** The CDN's own origin (another port), as the real hub's LFS/Xet bridge is another host. */
  cdnUrl = '';
  /** Redirect LFS files to the CDN origin instead of a path on the hub's own. */
  crossOriginCdn = false;

  static async start(): Promise<HubServer> {
    const s = new HubServer();
    s.server = http.createServer((req, res) => s.handle(req, res));
    s.cdnServer = http.createServer((req, res) => s.handle(req, res, true));
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => s.cdnServer.listen(0, '127.0.0.1', resolve));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    s.cdnUrl = `http://127.0.0.1:${(s.cdnServer.address() as AddressInfo).port}`;
    return s;
  }

  add(repo: HubRepo): void {
    this.repos.set(repo.id, repo);
  }

  async close(): Promise<void> {
    for (const r of this.held) r.destroy();
    for (const srv of [this.server, this.cdnServer]) {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  }

  /** Requests for file bytes (resolve or cdn) that were not the 1-byte probe. */
  bodyRequests(file?: string): LoggedRequest[] {
    return this.log.filter((r) => (r.path.startsWith('/cdn/') || r.path.includes('/resolve/')) && r.range !== 'bytes=0-0' && (!file || r.path.endsWith(file) || r.path.includes(file)));
  }

  private isLfs(repo: HubRepo, name: string): boolean {
    return repo.files[name].length > (repo.lfsAbove ?? 1024);
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  private commitOf(repo: HubRepo, rev: string): string | undefined {
    if (rev === repo.commit || rev === 'HEAD') return repo.commit;
    return (repo.refs ?? { main: repo.commit })[rev];
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, onCdn = false): void {
    const u = new URL(req.url ?? '/', this.url);
    const p = decodeURIComponent(u.pathname);
    this.log.push({ method: req.method ?? '', path: p, range: req.headers.range, authorization: req.headers.authorization, origin: onCdn ? 'cdn' : 'hub' });
    if (this.faults.noAnswer?.test(p)) {
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
      return;
    }
    if (p.startsWith('/cdn/')) return this.cdn(req, res, p.slice(5), u.searchParams.get('file'));
    if (onCdn) return void res.writeHead(404).end();
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)(?:\/(.*))?$/.exec(p);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    const id = api?.[1] ?? resolve?.[1];
    const repo = id ? this.repos.get(id) : undefined;
    if (!repo) return this.json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      return this.json(res, 401, { error: `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.` }, { 'X-Error-Code': 'GatedRepo' });
    }
    const commit = this.commitOf(repo, api?.[3] ?? resolve![2]);
    if (!commit) return this.json(res, 404, { error: 'Invalid rev id' }, { 'X-Error-Code': 'RevisionNotFound' });
    if (api?.[2] === 'revision') {
      return this.json(res, 200, {
        _id: `id-${repo.id}`, id: repo.id, private: false, gated: repo.token ? 'manual' : false, downloads: 0, likes: 0,
        lastModified: '2026-01-01T00:00:00.000Z', sha: commit, siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })),
      }, { 'X-Repo-Commit': commit });
    }
    if (api) return this.tree(res, repo, u);
    return this.resolveFile(req, res, repo, commit, resolve![3]);
  }

  private tree(res: http.ServerResponse, repo: HubRepo, u: URL): void {
    const entries = Object.entries(repo.files).map(([path, b]) => {
      const size = repo.listedSize?.[path] ?? b.length;
      return this.isLfs(repo, path)
        ? { type: 'file', oid: gitBlobId(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(b)}\nsize ${size}\n`)), size, path, lfs: { oid: sha256(b), size, pointerSize: 130 } }
        : { type: 'file', oid: gitBlobId(b), size, path };
    });
    const dirs = new Set(Object.keys(repo.files).filter((f) => f.includes('/')).map((f) => f.slice(0, f.lastIndexOf('/'))));
    const all = [...[...dirs].map((d) => ({ type: 'directory', oid: '0'.repeat(40), size: 0, path: d })), ...entries];
    const cursor = Number(u.searchParams.get('cursor') ?? 0);
    const page = all.slice(cursor, cursor + this.pageSize);
    const headers: Record<string, string> = {};
    if (cursor + this.pageSize < all.length) {
      const next = new URL(u.href);
      next.searchParams.set('cursor', String(cursor + this.pageSize));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    this.json(res, 200, page, headers);
  }

  private resolveFile(req: http.IncomingMessage, res: http.ServerResponse, repo: HubRepo, commit: string, name: string): void {
    const b = repo.files[name];
    if (!b) return this.json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
    if (this.isLfs(repo, name)) {
      const target = `${this.crossOriginCdn ? this.cdnUrl : this.url}/cdn/${sha256(b)}?file=${encodeURIComponent(name)}&repo=${encodeURIComponent(repo.id)}`;
      res.writeHead(302, {
        Location: target, 'X-Repo-Commit': commit, 'X-Linked-Etag': `"${sha256(b)}"`, 'X-Linked-Size': String(b.length), ETag: `"${gitBlobId(b)}"`,
      });
      res.end();
      return;
    }
    this.body(req, res, name, b, `"${gitBlobId(b)}"`, { 'X-Repo-Commit': commit });
  }

  /** The bytes of `hash`; `file` (the name the redirect gave) is the name faults are keyed by. */
  private cdn(req: http.IncomingMessage, res: http.ServerResponse, hash: string, file: string | null): void {
    for (const repo of this.repos.values()) {
      for (const [name, b] of Object.entries(repo.files)) {
        if (sha256(b) === hash) return this.body(req, res, file ?? name, b, `"${hash}"`, {});
      }
    }
    res.writeHead(404).end();
  }

  private body(req: http.IncomingMessage, res: http.ServerResponse, name: string, original: Buffer, etag: string, extra: Record<string, string>): void {
    let b = original;
    if (this.faults.corrupt?.has(name)) {
      b = Buffer.from(original);
      b[b.length - 1] ^= 0xff;
    }
    const size = b.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    const headers: Record<string, string> = { ETag: etag, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', ...extra };
    if (range && !(this.faults.ignoreResumeRange && Number(range[1]) > 0)) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    const slice = b.subarray(start, end + 1);
    headers['Content-Length'] = String(slice.length);
    res.writeHead(status, headers);
    const probe = req.headers.range === 'bytes=0-0';
    const cutAt = this.faults.cutOnce?.[name];
    if (!probe && cutAt !== undefined && !this.cut.has(name) && slice.length > cutAt) {
      this.cut.add(name);
      res.write(slice.subarray(0, cutAt), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    const stallAt = this.faults.stall?.[name];
    if (!probe && stallAt !== undefined && slice.length > stallAt) {
      this.held.add(res);
      res.write(slice.subarray(0, stallAt));
      res.on('close', () => this.held.delete(res));
      return;
    }
    res.end(slice);
  }
}
