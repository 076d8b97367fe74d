// What a model file is, for cache keys: the SHA-256 of its bytes. Hashing a 600 MB mmproj takes
// a second or two, so the hash is remembered beside the cache, under the file's (path, device,
// inode, size, mtime): a file rewritten in place or replaced gets a new stat and is hashed again.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeAside } from './write-aside';

const memo = new Map<string, Promise<string>>();

/** The content hash of `file`, remembered in `memoDir` (created if needed). */
export function fileIdentity(file: string, memoDir: string): Promise<string> {
  const abs = path.resolve(file);
  const st = fs.statSync(abs, { bigint: true });
  const statKey = createHash('sha256').update(JSON.stringify([abs, `${st.dev}`, `${st.ino}`, `${st.size}`, `${st.mtimeNs}`])).digest('hex');
  let p = memo.get(statKey);
  if (!p) {
    p = remembered(abs, path.join(memoDir, `${statKey}.json`));
    memo.set(statKey, p);
    p.catch(() => memo.delete(statKey));
  }
  return p;
}

async function remembered(file: string, memoFile: string): Promise<string> {
  try {
    const m = JSON.parse(await fs.promises.readFile(memoFile, 'utf8')) as { sha256?: unknown };
    if (typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256)) return m.sha256;
  } catch {
    // not remembered yet (or unreadable): hash it
  }
  const sha256 = await hashFile(file);
  try {
    await writeAside(memoFile, [Buffer.from(JSON.stringify({ file, sha256 }))]);
  } catch {
    // only a lost shortcut: the next process hashes again
  }
  return sha256;
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    fs.createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
