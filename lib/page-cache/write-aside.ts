// A file that appears whole or not at all: written to a temporary name in the same folder,
// flushed to disk, then renamed over the target. Readers (other processes included) see the old
// file or the new one, never part of one; two writers of the same file both succeed, the last
// rename wins.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Temporary files start with this; a crashed writer's are swept up (sweepTemporaries). */
export const TEMP_PREFIX = '.tmp-';

export async function writeAside(target: string, chunks: Uint8Array[]): Promise<void> {
  const dir = path.dirname(target);
  await fs.promises.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  const fh = await fs.promises.open(tmp, 'wx', 0o644);
  try {
    try {
      // Chunk by chunk: a page's KV state is hundreds of MB, not worth a joined copy.
      for (const c of chunks) await fh.writeFile(c); // each from where the last ended, whole
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  await syncDir(dir);
}

/** The rename itself made durable (POSIX); Windows cannot open a folder for fsync, and needs not. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  try {
    const d = await fs.promises.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // durability of the name only: the entry itself is already on disk
  }
}
