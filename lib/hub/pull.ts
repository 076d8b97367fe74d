// pullModel: a Hugging Face repo → a GGUF pair on disk that `hf:owner/name` loads.
// - a checkpoint repo (Mini-Monkey, InternVL2: config.json + safetensors) downloads the files the
//   converter reads and converts them;
// - a GGUF repo (llama.cpp's layout: <name>-<quant>.gguf + mmproj-*.gguf) downloads the chosen
//   text GGUF and its mmproj.
// The revision is resolved to one commit first and every file is fetched at that commit; the disk
// space for all of it is checked before the first byte; every file is verified (download.ts).
import fs from 'node:fs';
import path from 'node:path';
import { convertCheckpoint } from '../convert/convert';
import { TEXT_TYPES, TextQuant, VISION_TYPES, VisionQuant } from '../convert/quant-rules';
import { DownloadError, InvalidArgumentError, IoError, UnsupportedError } from '../errors';
import { checkCallback, checkSignal, throwIfAborted } from '../util/abort';
import { ioError } from '../util/io-error';
import { writeBytes } from '../util/safe-write';
import { HUB_LIMITS } from '../limits';
import { HubClient, hubClient, hubError, HubOptions } from './client';
import { downloadOne, partialPath, RemoteFile } from './download';
import { hubLib } from './hub-lib';
import { cappedFetch } from './capped-body';
import { checkRepoPath } from './repo-path';
import { urlOf } from './timed-fetch';
import { manifestPath, minimonkeyHome, modelDir, parseRepoRef, PulledModel, repoFolder } from './home';

export interface PullOptions extends HubOptions {
  /** "owner/name" or "owner/name@revision" (a branch, tag or commit). */
  repo: string;
  /** Where the GGUF pair goes (default: MINIMONKEY_HOME/models/<owner>--<name>). */
  outDir?: string;
  /**
   * Checkpoint repos: the converter's text type (default q4_k_m). GGUF repos: the quantization
   * in the text GGUF's file name, e.g. q4_k_m or q8_0 (default q4_k_m, or the only one there is).
   */
  textType?: string;
  /** As textType, for the mmproj (default f16). */
  visionType?: string;
  /** The cache folder (default: minimonkeyHome(): $MINIMONKEY_HOME, else ~/.cache/minimonkey). */
  home?: string;
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
}

export interface PullProgress {
  phase: 'download' | 'convert';
  /** The file being downloaded (repo path) or written (output path). */
  file: string;
  /** download: bytes on disk of all files / of this file; convert: tensors done. */
  done: number;
  total: number;
  fileDone: number;
  fileTotal: number;
}

export interface PullResult extends PulledModel {
  /** The repo files downloaded (or found complete in the cache). */
  files: string[];
  /** Bytes of those files. */
  bytes: number;
  warnings: string[];
}

/** Files the converter may read besides the weights (lib/convert). */
const CHECKPOINT_FILES = new Set([
  'config.json', 'tokenizer_config.json', 'tokenizer.model', 'tokenizer.json', 'vocab.json', 'merges.txt',
  'added_tokens.json', 'special_tokens_map.json', 'preprocessor_config.json', 'generation_config.json', 'model.safetensors.index.json',
]);

interface RepoPlan {
  kind: 'gguf' | 'checkpoint';
  files: RemoteFile[];
  text?: RemoteFile;
  mmproj?: RemoteFile;
  /** Bytes the conversion writes (an upper estimate). */
  outputBytes: number;
}

const quantIn = (name: string, q: string) => new RegExp(`(^|[^a-z0-9])${q.toLowerCase().replace(/[^a-z0-9_]/g, '')}([^a-z0-9]|$)`).test(path.basename(name).toLowerCase());

function pick(kind: string, files: RemoteFile[], wanted: string | undefined, fallback: string, flag: string): RemoteFile {
  const names = () => files.map((f) => path.basename(f.path)).join(', ');
  if (files.length === 0) throw new UnsupportedError(`the repo has no ${kind} GGUF`);
  const q = wanted ?? fallback;
  const hits = files.filter((f) => quantIn(f.path, q));
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) throw new InvalidArgumentError(`several ${kind} GGUFs match ${q}: ${hits.map((f) => f.path).join(', ')}`);
  if (wanted === undefined && files.length === 1) return files[0];
  throw new InvalidArgumentError(`no ${kind} GGUF matches ${flag} ${q}; the repo has: ${names()}`);
}

export function planRepo(entries: RemoteFile[], textType: string | undefined, visionType: string | undefined): RepoPlan {
  const ggufs = entries.filter((f) => f.path.toLowerCase().endsWith('.gguf'));
  if (ggufs.length > 0) {
    const isMmproj = (f: RemoteFile) => /mmproj/i.test(path.basename(f.path));
    const text = pick('text', ggufs.filter((f) => !isMmproj(f)), textType, 'q4_k_m', '--text-type');
    const mmproj = pick('mmproj', ggufs.filter(isMmproj), visionType, 'f16', '--vision-type');
    for (const f of [text, mmproj]) {
      if (/-\d{5}-of-\d{5}\.gguf$/i.test(f.path)) throw new UnsupportedError(`${f.path} is one part of a split GGUF; minimonkey loads single-file GGUFs`);
    }
    return { kind: 'gguf', files: [text, mmproj], text, mmproj, outputBytes: 0 };
  }
  const root = entries.filter((f) => !f.path.includes('/'));
  const weights = root.filter((f) => f.path.endsWith('.safetensors'));
  if (!root.some((f) => f.path === 'config.json') || weights.length === 0) {
    const bin = root.some((f) => /\.bin$/.test(f.path));
    throw new UnsupportedError(
      `the repo is neither a GGUF repo (no .gguf files) nor a checkpoint with config.json and safetensors weights${bin ? ' (it has only PyTorch .bin weights)' : ''}`,
    );
  }
  if (textType !== undefined && !(TEXT_TYPES as readonly string[]).includes(textType)) throw new InvalidArgumentError(`textType must be one of ${TEXT_TYPES.join(', ')} for a checkpoint`);
  if (visionType !== undefined && !(VISION_TYPES as readonly string[]).includes(visionType)) throw new InvalidArgumentError(`visionType must be one of ${VISION_TYPES.join(', ')} for a checkpoint`);
  const files = [...root.filter((f) => CHECKPOINT_FILES.has(f.path)), ...weights];
  const weightBytes = weights.reduce((n, f) => n + f.size, 0);
  // bf16 weights: f16 / q8_0 / q4 outputs are no larger than the input; f32 doubles it.
  const outputBytes = weightBytes * (textType === 'f32' || visionType === 'f32' ? 2 : 1);
  return { kind: 'checkpoint', files, outputBytes };
}

async function resolveCommit(client: HubClient, repo: string, revision: string): Promise<string> {
  try {
    client.clearFailure();
    const info = await (await hubLib()).modelInfo({ name: repo, revision, hubUrl: client.hubUrl, accessToken: client.accessToken, fetch: cappedFetch(client.fetch, 'model info'), additionalFields: ['sha'] });
    const sha = (info as { sha?: unknown }).sha;
    if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) throw new DownloadError(`${repo}@${revision}: the hub gave no commit id`);
    return sha;
  } catch (e) {
    throw hubError(e, `${repo}@${revision}`, client);
  }
}

async function listRepo(client: HubClient, repo: string, commit: string): Promise<RemoteFile[]> {
  const out: RemoteFile[] = [];
  // The client follows `Link: rel="next"` itself: each page is counted and a URL seen twice is a loop.
  const pages = new Set<string>();
  const pageFetch = cappedFetch(client.fetch, 'file listing page');
  const listFetch: typeof fetch = (input, init) => {
    const url = urlOf(input);
    if (pages.has(url)) throw new DownloadError(`${repo}: the hub's file listing links back to a page it already sent (${url})`);
    if (pages.size >= HUB_LIMITS.listingPages.default) throw new DownloadError(`${repo}: the hub's file listing goes on past ${HUB_LIMITS.listingPages.default} pages`);
    pages.add(url);
    return pageFetch(input, init);
  };
  let entries = 0;
  try {
    client.clearFailure();
    for await (const e of (await hubLib()).listFiles({ repo, revision: commit, recursive: true, hubUrl: client.hubUrl, accessToken: client.accessToken, fetch: listFetch })) {
      if (++entries > HUB_LIMITS.listingEntries.default) throw new DownloadError(`${repo}: the hub's file listing has more than ${HUB_LIMITS.listingEntries.default} entries`);
      if (e.type !== 'file') continue;
      checkRepoPath(repo, e.path);
      if (!Number.isSafeInteger(e.size) || e.size < 0) throw new DownloadError(`${repo}/${e.path}: the hub listed a bad size`);
      const sha256 = e.lfs?.oid && /^[0-9a-f]{64}$/.test(e.lfs.oid) ? e.lfs.oid : undefined;
      const gitOid = !e.lfs && e.oid && /^[0-9a-f]{40}$/.test(e.oid) ? e.oid : undefined;
      out.push({ path: e.path, size: e.size, sha256, gitOid });
    }
  } catch (e) {
    throw hubError(e, `${repo}@${commit.slice(0, 12)}: listing files`, client);
  }
  return out;
}

/** The nearest folder of `p` that exists (statfs needs one). */
function existingAncestor(p: string): string {
  let d = path.resolve(p);
  while (!fs.existsSync(d)) {
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}

/** Free bytes for an unprivileged user where `dir` is (or will be). */
export function freeBytes(dir: string): { bytes: number; device: number } {
  const at = existingAncestor(dir);
  const s = fs.statfsSync(at);
  return { bytes: s.bavail * s.bsize, device: fs.statSync(at).dev };
}

const gib = (n: number) => `${(n / 1024 ** 3).toFixed(2)} GiB`;

/** Fails before the first byte when the downloads and the conversion would not fit. */
function checkSpace(needs: { dir: string; bytes: number }[]): void {
  const byDevice = new Map<number, { dir: string; bytes: number; free: number }>();
  for (const n of needs) {
    if (n.bytes <= 0) continue;
    const f = freeBytes(n.dir);
    const e = byDevice.get(f.device) ?? { dir: n.dir, bytes: 0, free: f.bytes };
    e.bytes += n.bytes;
    byDevice.set(f.device, e);
  }
  for (const e of byDevice.values()) {
    const margin = 64 * 1024 * 1024;
    if (e.bytes + margin > e.free) {
      throw new IoError(`not enough disk space: the pull needs ${gib(e.bytes)} in ${e.dir} but ${gib(e.free)} are free (set MINIMONKEY_HOME or --out to another disk)`);
    }
  }
}

export async function pullModel(o: PullOptions): Promise<PullResult> {
  if (!o || typeof o !== 'object') throw new InvalidArgumentError('pullModel({repo, ...})');
  checkSignal(o.signal);
  checkCallback(o.onProgress, 'onProgress');
  const { repo, revision } = parseRepoRef(o.repo);
  const home = path.resolve(o.home ?? minimonkeyHome());
  const outDir = path.resolve(o.outDir ?? modelDir(home, repo));
  const client = hubClient(o, o.signal);
  const report = (p: PullProgress) => {
    try {
      o.onProgress?.(p);
    } catch {
      /* a progress callback cannot break the pull */
    }
  };

  const commit = await resolveCommit(client, repo, revision);
  throwIfAborted(o.signal);
  const entries = await listRepo(client, repo, commit);
  const plan = planRepo(entries, o.textType, o.visionType);
  const partialDir = path.join(home, 'partial', repoFolder(repo));
  const downloadDir = plan.kind === 'gguf' ? outDir : path.join(home, 'downloads', repoFolder(repo), commit);
  const destOf = (f: RemoteFile) => (plan.kind === 'gguf' ? path.join(outDir, path.basename(f.path)) : path.join(downloadDir, f.path));

  // Space: what is still to download (a complete file or resumable bytes already there count), and the conversion's output.
  const have = (f: RemoteFile) => {
    for (const p of [destOf(f), partialPath(partialDir, f)]) {
      try {
        const st = fs.statSync(p);
        if (st.isFile() && st.size <= f.size) return st.size;
      } catch {
        /* not there */
      }
    }
    return 0;
  };
  const total = plan.files.reduce((n, f) => n + f.size, 0);
  checkSpace([
    { dir: partialDir, bytes: plan.files.reduce((n, f) => n + f.size - have(f), 0) },
    { dir: outDir, bytes: plan.outputBytes },
  ]);

  let before = 0;
  for (const f of plan.files) {
    throwIfAborted(o.signal);
    await downloadOne(client, {
      repo, commit, file: f, dest: destOf(f), partialDir, signal: o.signal,
      onBytes: (b) => report({ phase: 'download', file: f.path, done: before + b, total, fileDone: b, fileTotal: f.size }),
    });
    before += f.size;
  }

  let model: string;
  let mmproj: string;
  const warnings: string[] = [];
  if (plan.kind === 'gguf') {
    model = destOf(plan.text!);
    mmproj = destOf(plan.mmproj!);
  } else {
    const r = await convertCheckpoint({
      checkpointDir: downloadDir, outDir, name: repo.split('/')[1], signal: o.signal,
      textType: o.textType as TextQuant | undefined, visionType: o.visionType as VisionQuant | undefined,
      onProgress: (p) => report({ phase: 'convert', file: p.file, done: p.done, total: p.total, fileDone: p.done, fileTotal: p.total }),
    });
    model = r.model;
    mmproj = r.mmproj;
    warnings.push(...r.warnings);
  }
  const pulled: PulledModel = { repo, revision, commit, kind: plan.kind, model, mmproj, pulledAt: new Date().toISOString() };
  const manifest = manifestPath(home, repo);
  try {
    fs.mkdirSync(path.dirname(manifest), { recursive: true });
  } catch (e) {
    throw ioError(e, 'create the folder', path.dirname(manifest));
  }
  await writeBytes(manifest, Buffer.from(`${JSON.stringify(pulled, null, 2)}\n`), o.signal);
  return { ...pulled, files: plan.files.map((f) => f.path), bytes: total, warnings };
}
