// The source build says what it is doing: `npm run build:native` (what `npm install` runs when no
// prebuilt binary loads here) prints one `[build]` line per stage, in order, and nothing that
// redraws a line (no \r, no progress bar), so a log or a CI job sees progress rather than minutes
// of silence. It runs the user's command on this checkout's own build folder, which `npm install`
// built (CI's first step): the real stages on their cheap path (the pinned source already unpacked,
// a re-configure, a compile with nothing to do, the copy into build/Release).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const cache = path.join(root, 'build', 'cmake', 'CMakeCache.txt');

/** The checkout whose source the build folder was configured for (undefined when none). */
function configuredFor(): string | undefined {
  if (!fs.existsSync(cache)) return undefined;
  const m = /^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/m.exec(fs.readFileSync(cache, 'utf8'));
  return m ? fs.realpathSync(m[1]) : undefined;
}

// A git worktree that shares another checkout's build/ (a symlink) must not re-configure it: cmake
// refuses a cache made for another source folder, and the build is that checkout's.
const own = configuredFor() === fs.realpathSync(root);
if (!own) console.warn(`build-lines: skipped, ${cache} is not this checkout's build (run npm install here first)`);

function npm(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('npm', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

(own ? test : test.skip)('npm run build:native: one [build] line per stage, in order, and no progress bar', async () => {
  const r = await npm(['run', 'build:native']);
  expect(r.code).toBe(0);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('[build]'));
  const stages = [
    /^\[build\] 1\/3 the pinned llama\.cpp source \(\d+ s so far\)$/,
    /^\[build\] 2\/3 configure build[/\\]cmake \(\d+ s so far\)$/,
    /^\[build\] 3\/3 compile with \d+ jobs \(.*\) \(\d+ s so far\)$/,
    /^\[build\] done in \d+ s$/,
  ];
  expect(lines).toHaveLength(stages.length);
  stages.forEach((re, i) => expect(lines[i]).toMatch(re));
  // Nothing redraws a line: every stage (llama.cpp, cmake, ninja, npm) writes whole lines.
  expect(r.stdout.includes('\r') || r.stderr.includes('\r')).toBe(false);
  // And it built what the loader loads.
  expect(fs.existsSync(path.join(root, 'build', 'Release', 'minimonkey.node'))).toBe(true);
}, 45 * 60_000);
