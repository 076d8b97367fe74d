// What only a build from source needs from npm: cmake-js (which drives cmake) and node-addon-api (its
// C++ headers). They are optional peer dependencies, so a prebuilt install (nearly every user) leaves
// them out; a checkout has them as devDependencies. A source build checks for them before anything
// is fetched or compiled, and names the command that adds them in one line.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const BUILD_PACKAGES = ['cmake-js', 'node-addon-api'];

/** `npm install cmake-js@8 node-addon-api@8`: the major of each peer range, which reads the same in every shell (cmd.exe eats `^`). */
export function installCommand() {
  const peers = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).peerDependencies ?? {};
  return `npm install ${BUILD_PACKAGES.map((name) => `${name}@${String(peers[name] ?? 'latest').replace(/^\^/, '').split('.')[0]}`).join(' ')}`;
}

/** The build packages that cannot be found from the package's own folder. */
export function missingBuildPackages() {
  return BUILD_PACKAGES.filter((name) => {
    try {
      require.resolve(`${name}/package.json`);
      return false;
    } catch {
      return true;
    }
  });
}

/** Exits 1 with one line naming what to install when a build package is missing. */
export function requireBuildPackages() {
  const missing = missingBuildPackages();
  if (!missing.length) return;
  process.stderr.write(`minimonkey: building from source needs the npm packages ${BUILD_PACKAGES.join(' and ')}, which a plain install leaves out ` +
    `(missing: ${missing.join(', ')}): run \`${installCommand()}\` in your project, then \`npm rebuild minimonkey\`\n`);
  process.exit(1);
}
