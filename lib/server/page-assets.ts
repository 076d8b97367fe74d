// The page's files (plain HTML and JS, no build step), read once from the package's
// lib/server/page/ — shipped as is (package.json "files"), found from lib/ or dist/lib/.
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../addon-loader';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const cache = new Map<string, { type: string; body: Buffer }>();

/** A page file by name (no folders: a request cannot reach anything else), or undefined. */
export function pageAsset(name: string): { type: string; body: Buffer } | undefined {
  if (!/^[\w-]+\.(html|js|css)$/.test(name)) return undefined;
  let hit = cache.get(name);
  if (!hit) {
    const file = path.join(packageRoot, 'lib', 'server', 'page', name);
    if (!fs.existsSync(file)) return undefined;
    hit = { type: TYPES[path.extname(name)], body: fs.readFileSync(file) };
    cache.set(name, hit);
  }
  return hit;
}
