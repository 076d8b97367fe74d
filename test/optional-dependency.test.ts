// Optional packages (the queue's bullmq and ioredis) are loaded on first use; one that is not
// installed is a typed MISSING_DEPENDENCY error naming what to install, and nothing else is hidden.
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
});
