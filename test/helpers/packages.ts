// The package as users get it, for the tests that install it: packing the main package and a platform
// package folder, an app folder, and a PATH on which every compiler fails (and leaves a note).
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const root = path.join(__dirname, '..', '..');

// Children get no npm_* variables from the `npm test` that runs us (they would steer npm install).
export const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_'))),
  ...extra,
});

export function sh(cmd: string, args: string[], options: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export function mustRun(cmd: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = sh(cmd, args, options);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `npm pack` of a folder into `dest`: the tarball and the paths in it. */
export function pack(dir: string, dest: string): { tarball: string; files: string[] } {
  fs.mkdirSync(dest, { recursive: true });
  const packed = JSON.parse(mustRun('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], { cwd: dir, env: cleanEnv() }));
  return { tarball: path.join(dest, packed[0].filename), files: (packed[0].files as { path: string }[]).map((f) => f.path) };
}

/**
 * The main package folder as `npm pack` sees it, in `staging`: package.json's "files" (dist/ is fresh:
 * jest's global setup compiled it) and package.json; packed into `dest`.
 */
export function packMain(staging: string, dest: string): { tarball: string; files: string[] } {
  stageMain(staging);
  return pack(staging, dest);
}

/** The main package folder as `npm pack` sees it (package.json's "files" and package.json), in `staging`. */
export function stageMain(staging: string): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
  fs.mkdirSync(staging, { recursive: true });
  for (const entry of [...pkg.files, 'package.json']) {
    fs.cpSync(path.join(root, entry), path.join(staging, entry), { recursive: true });
  }
}

/** A folder whose every compiler and build tool fails and appends its command line to `log`. */
export function noCompilers(dir: string, log: string): NodeJS.ProcessEnv {
  fs.mkdirSync(dir, { recursive: true });
  for (const tool of ['cc', 'gcc', 'c++', 'g++', 'clang', 'clang++', 'cmake', 'make', 'ninja', 'node-gyp']) {
    fs.writeFileSync(path.join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> "${log}"\nexit 1\n`, { mode: 0o755 });
  }
  return cleanEnv({ PATH: `${dir}${path.delimiter}${process.env.PATH}` });
}

/** What the stubs logged: '' when nothing tried to compile. */
export const compileAttempts = (log: string): string => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');

/** An empty app folder, then `install` (a command and its arguments) run in it. */
export function newApp(dir: string, install: [string, string[]], env: NodeJS.ProcessEnv): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  mustRun(install[0], install[1], { cwd: dir, env });
}
