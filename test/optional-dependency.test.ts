// Optional packages (the queue's bullmq and ioredis) are loaded on first use; one that is not
// installed is a typed MISSING_DEPENDENCY error naming what to install, and nothing else is hidden.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MiniMonkeyError, MissingDependencyError } from '../lib';
import { checkQueuePackages } from '../lib/batch/queue';
import { requireOptional } from '../lib/util/optional-dependency';
import { tempDir } from './helpers/models';

describe('optional dependencies', () => {
  it('a package that is not installed is MISSING_DEPENDENCY, with the command that adds the group', () => {
    const e = (() => {
      try {
        requireOptional('minimonkey-no-such-package', 'the test feature', ['minimonkey-no-such-package', 'another']);
      } catch (x) {
        return x;
      }
    })() as MissingDependencyError;
    expect(e).toBeInstanceOf(MiniMonkeyError);
    expect(e.code).toBe('MISSING_DEPENDENCY');
    expect(e.packages).toEqual(['minimonkey-no-such-package', 'another']);
    expect(e.message).toBe('the test feature needs the npm packages minimonkey-no-such-package and another, which minimonkey does not install by default: npm install minimonkey-no-such-package another');
  });

  it('a package that is installed but broken is its own error, not "missing"', () => {
    const dir = path.join(fs.mkdtempSync(path.join(tempDir(), 'optional-')), 'node_modules', 'mm-broken-pkg');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'index.js'), "require('mm-broken-pkg-inner-dependency');\n");
    expect(() => requireOptional(dir, 'x')).toThrow(/mm-broken-pkg-inner-dependency/);
    expect(() => requireOptional(dir, 'x')).not.toThrow(MissingDependencyError);
  });

  it('with the queue packages installed (as in this checkout) the check passes', () => {
    expect(() => checkQueuePackages()).not.toThrow();
  });

  // cmake-js and node-addon-api only build from source: optional peers, checked before anything is fetched or built.
  it('a source build without cmake-js and node-addon-api stops at once with one line naming the install command', () => {
    // The real scripts and package.json alone in a folder where neither package can be found.
    const dir = fs.mkdtempSync(path.join(tempDir(), 'no-build-tools-'));
    fs.mkdirSync(path.join(dir, 'scripts'));
    for (const f of ['build-native.mjs', 'build-packages.mjs', 'cmake-build.mjs']) {
      fs.copyFileSync(path.join(__dirname, '..', 'scripts', f), path.join(dir, 'scripts', f));
    }
    fs.copyFileSync(path.join(__dirname, '..', 'package.json'), path.join(dir, 'package.json'));
    const r = spawnSync(process.execPath, [path.join(dir, 'scripts', 'build-native.mjs')], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('minimonkey: building from source needs the npm packages cmake-js and node-addon-api, which a plain install leaves out ' +
      '(missing: cmake-js, node-addon-api): run `npm install cmake-js@8 node-addon-api@8` in your project, then `npm rebuild minimonkey`');
    expect(fs.readdirSync(dir).sort()).toEqual(['package.json', 'scripts']); // no deps/, no build/
  });

  it('the package lists them as optional peers, and this checkout (devDependencies) has them', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    for (const name of ['cmake-js', 'node-addon-api']) {
      expect(pkg.dependencies[name]).toBeUndefined();
      expect(pkg.peerDependenciesMeta[name]).toEqual({ optional: true });
      expect(pkg.devDependencies[name]).toBe(pkg.peerDependencies[name]);
      expect(() => require.resolve(`${name}/package.json`)).not.toThrow();
      // The command the message names installs a version inside the peer range.
      expect(pkg.peerDependencies[name]).toMatch(/^\^8\./);
    }
  });
});
