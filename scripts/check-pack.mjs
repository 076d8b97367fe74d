#!/usr/bin/env node
// `prepack` of the main package (npm pack, npm publish): refuses to pack unless this platform's prebuilt
// set for this version is in prebuilds/<platform>-<arch>/ (written by `npm run prebuild`), so no main
// tarball ships whose platform package was never built. The release workflow packs with every set there.
import fs from 'node:fs';
import path from 'node:path';
import { hostPlatformTag, root } from './cmake-build.mjs';

const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const tag = hostPlatformTag();
const dir = path.join('prebuilds', tag);
const refuse = (why) => {
  process.stderr.write(`minimonkey: not packing ${main.name}@${main.version}: ${why}; run \`npm run prebuild\` first\n`);
  process.exit(1);
};

let set;
try {
  set = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
} catch {
  refuse(`${dir}/package.json is missing (this platform's prebuilt set)`);
}
if (set.name !== `@minimonkey/${tag}` || set.version !== main.version) {
  refuse(`${dir} holds ${set.name}@${set.version}, not @minimonkey/${tag}@${main.version}`);
}
const missing = (set.files ?? []).filter((f) => !fs.existsSync(path.join(root, dir, f)));
if (!set.files?.includes('minimonkey.node') || missing.length) {
  refuse(`${dir} lacks ${missing.length ? missing.join(', ') : 'minimonkey.node'}`);
}
