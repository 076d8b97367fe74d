// `minimonkey <args>` in a child process with its own MINIMONKEY_HOME and the page cache at its
// default (on), as a user's second process meets the first one's cache: for the page-cache suites.
import { spawn } from 'node:child_process';
import path from 'node:path';

const cli = path.join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');

export interface Run { status: number | null; stdout: string; stderr: string }

/** Runs the CLI with MINIMONKEY_HOME=home; MINIMONKEY_PAGE_CACHE is dropped unless `env` sets it. */
export function minimonkey(args: string[], home: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, MINIMONKEY_HOME: home, ...env };
  if (!('MINIMONKEY_PAGE_CACHE' in env)) delete childEnv.MINIMONKEY_PAGE_CACHE;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
