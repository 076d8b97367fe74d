// The compiled .js file of a module that runs in its own thread or process (worker_threads,
// child_process.fork need JavaScript): beside the caller in dist/, or dist/'s copy when the caller
// itself runs from TypeScript sources (ts-jest), where no .js sits beside it.
import fs from 'node:fs';
import path from 'node:path';

/** `dir` is the caller's __dirname, `name` the module's file name without extension. */
export function compiledSibling(dir: string, name: string): string {
  const here = path.join(dir, `${name}.js`);
  if (fs.existsSync(here)) return here;
  const root = path.join(__dirname, '..', '..');
  return path.join(root, 'dist', path.relative(root, dir), `${name}.js`);
}
