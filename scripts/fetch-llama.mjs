#!/usr/bin/env node
// Obtains the pinned llama.cpp source (ggml + libllama) and unpacks it into deps/llama.cpp.
//
// The source travels inside the npm package node-llama-cpp@3.22.1 as llama/gitRelease.bundle,
// a git bundle of llama.cpp v0.5.0. We fetch that tarball from the npm registry (the only network
// we may use), check it against pinned hashes, and clone the bundle. Nothing of it is committed.
//
// Idempotent: a stamp file records the unpacked commit; a second run does nothing.
// Offline: set MINIMONKEY_LLAMA_TARBALL=/path/to/node-llama-cpp-3.22.1.tgz to skip the registry.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const PIN = {
  npmPackage: 'node-llama-cpp@3.22.1',
  tarballName: 'node-llama-cpp-3.22.1.tgz',
  tarballSha256: 'a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f',
  bundleMember: 'package/llama/gitRelease.bundle',
  bundleSha256: '5f5d1105d5df040738d87b8290e5d17e7362131cdcfdb0831618e0ea528b4a51',
  commit: 'de3ff815ea7d559ee917f063901b8986f038abc6',
  release: 'v0.5.0',
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const depsDir = path.join(root, 'deps');
const cacheDir = path.join(depsDir, 'cache');
const destDir = path.join(depsDir, 'llama.cpp');
const stampFile = path.join(destDir, '.minimonkey-pin');

const log = (msg) => process.stderr.write(`[fetch-llama] ${msg}\n`);
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function fail(msg) {
  log(`error: ${msg}`);
  process.exit(1);
}

function obtainTarball() {
  const override = process.env.MINIMONKEY_LLAMA_TARBALL;
  if (override) return override;
  const cached = path.join(cacheDir, PIN.tarballName);
  if (fs.existsSync(cached) && sha256(fs.readFileSync(cached)) === PIN.tarballSha256) return cached;
  fs.mkdirSync(cacheDir, { recursive: true });
  log(`downloading ${PIN.npmPackage} from the npm registry`);
  // npm verifies the registry's sha512 integrity on the way in; we check our own pin after.
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['pack', PIN.npmPackage, '--silent', '--pack-destination', cacheDir], {
    stdio: ['ignore', 'ignore', 'inherit'],
    shell: process.platform === 'win32',
  });
  return cached;
}

// Minimal ustar reader: returns the bytes of one member of a gzipped tarball.
function extractMember(tgz, member) {
  const tar = zlib.gunzipSync(tgz);
  let off = 0;
  let longName = null;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start, len) => header.subarray(start, start + len).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const prefix = field(345, 155);
    let name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = null;
    const body = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') { longName = body.toString('utf8').replace(/\0.*$/s, ''); continue; }
    if (name === member && (type === '0' || type === '\0')) return Buffer.from(body);
  }
  return null;
}

function main() {
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8').trim() === PIN.commit) {
    log(`llama.cpp ${PIN.release} (${PIN.commit.slice(0, 10)}) already in deps/llama.cpp`);
    return;
  }
  const tarball = obtainTarball();
  const tgz = fs.readFileSync(tarball);
  if (sha256(tgz) !== PIN.tarballSha256) fail(`${tarball}: sha256 does not match the pinned ${PIN.npmPackage}`);
  const bundle = extractMember(tgz, PIN.bundleMember);
  if (!bundle) fail(`${PIN.bundleMember} not found in ${tarball}`);
  if (sha256(bundle) !== PIN.bundleSha256) fail('gitRelease.bundle: sha256 does not match the pin');

  fs.mkdirSync(depsDir, { recursive: true });
  const bundlePath = path.join(cacheDir, 'llama.cpp.bundle');
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(bundlePath, bundle);
  const tmp = `${destDir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  log(`unpacking llama.cpp ${PIN.release} into deps/llama.cpp`);
  const git = (...args) => execFileSync('git', args, { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim();
  try {
    git('-c', 'advice.detachedHead=false', 'clone', '--quiet', '--no-checkout', bundlePath, tmp);
    git('-C', tmp, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', PIN.commit);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    fail(`git could not unpack the bundle (is git installed?): ${e.message}`);
  }
  if (git('-C', tmp, 'rev-parse', 'HEAD') !== PIN.commit) fail('unpacked commit does not match the pin');
  fs.rmSync(path.join(tmp, '.git'), { recursive: true, force: true });
  fs.writeFileSync(path.join(tmp, '.minimonkey-pin'), `${PIN.commit}\n`);
  fs.rmSync(destDir, { recursive: true, force: true });
  fs.renameSync(tmp, destDir);
  fs.rmSync(bundlePath, { force: true });
  log('done');
}

main();
