// Where pulled models live. One folder, MINIMONKEY_HOME (default: $XDG_CACHE_HOME/minimonkey,
// else ~/.cache/minimonkey):
//
//   downloads/<owner>--<repo>/<commit>/<file>        verified checkpoint files (input of convert)
//   partial/<owner>--<repo>/<sha>.incomplete          bytes of an interrupted download, for resume
//   models/<owner>--<repo>/                           the GGUF pair (unless --out put it elsewhere)
//   models/<owner>--<repo>/model.json                 what `hf:owner/repo` resolves to
//
// A file appears under downloads/ or models/ only once it is complete and verified.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, ModelLoadError } from '../errors';

export function minimonkeyHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MINIMONKEY_HOME) return path.resolve(env.MINIMONKEY_HOME);
  const cache = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(cache, 'minimonkey');
}

export interface RepoRef {
  /** owner/name */
  repo: string;
  /** A branch, tag or commit; 'main' when not given. */
  revision: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

/** "owner/name[@revision]" (an "hf:" prefix is allowed), checked: no path tricks reach a URL or a folder name. */
export function parseRepoRef(text: string): RepoRef {
  if (typeof text !== 'string') throw new InvalidArgumentError('repo must be a string like "owner/name"');
  const body = text.startsWith('hf:') ? text.slice(3) : text;
  const at = body.indexOf('@');
  const repo = at >= 0 ? body.slice(0, at) : body;
  const revision = at >= 0 ? body.slice(at + 1) : 'main';
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => NAME.test(p) && !p.includes('..'))) {
    throw new InvalidArgumentError(`'${text}' is not a Hugging Face repo name: expected owner/name[@revision]`);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/.test(revision) || revision.includes('..')) {
    throw new InvalidArgumentError(`'${revision}' is not a revision (a branch, tag or commit)`);
  }
  return { repo, revision };
}

/** owner/name as one folder name. */
export const repoFolder = (repo: string) => repo.replace('/', '--');

export function modelDir(home: string, repo: string): string {
  return path.join(home, 'models', repoFolder(repo));
}

/** What a pull left: the pair `hf:owner/name` loads. */
export interface PulledModel {
  repo: string;
  revision: string;
  commit: string;
  kind: 'gguf' | 'checkpoint';
  /** Absolute paths. */
  model: string;
  mmproj: string;
  pulledAt: string;
}

export const MANIFEST = 'model.json';

export function manifestPath(home: string, repo: string): string {
  return path.join(modelDir(home, repo), MANIFEST);
}

/** The pair pulled for `hf:owner/name` (the revision part, if any, must match what was pulled). */
export function resolvePulledModel(ref: string, home = minimonkeyHome()): PulledModel {
  const { repo, revision } = parseRepoRef(ref);
  const file = manifestPath(home, repo);
  let m: PulledModel;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as PulledModel;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ModelLoadError(`${ref} has not been pulled into ${home}: run \`minimonkey pull ${repo}\` first`);
    }
    throw new ModelLoadError(`${file}: unreadable (${(e as Error).message}); pull ${repo} again`, { cause: e });
  }
  if (typeof m?.model !== 'string' || typeof m.mmproj !== 'string') throw new ModelLoadError(`${file}: no model / mmproj; pull ${repo} again`);
  const explicit = ref.includes('@');
  if (explicit && revision !== m.revision && !m.commit.startsWith(revision)) {
    throw new ModelLoadError(`${ref}: ${repo} was pulled at ${m.revision} (${m.commit.slice(0, 12)}), not ${revision}; pull ${repo}@${revision}`);
  }
  for (const f of [m.model, m.mmproj]) {
    if (!fs.existsSync(f)) throw new ModelLoadError(`${ref}: ${f} is gone; pull ${repo} again`);
  }
  return m;
}
