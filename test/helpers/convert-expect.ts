// Shared by the converter's bad-input tests: a conversion that must fail with a typed error and
// leave nothing behind, and an in-place edit of a checkpoint's JSON file.
import fs from 'node:fs';
import path from 'node:path';
import { convertCheckpoint } from '../../lib/convert/convert';
import { MiniMonkeyError } from '../../lib/errors';
import { tempDir } from './models';

let n = 0;

export async function expectConvertError(checkpointDir: string, code: string, message: RegExp): Promise<void> {
  const outDir = path.join(tempDir(), 'convert-bad-out', `out-${++n}`);
  const err = await convertCheckpoint({ checkpointDir, outDir, textType: 'f16', visionType: 'f16' }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MiniMonkeyError);
  expect((err as MiniMonkeyError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
  // Checks happen before writing: not even the output folder was made.
  expect(fs.existsSync(outDir)).toBe(false);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function editJson(file: string, edit: (j: Record<string, any>) => void): void {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
}
