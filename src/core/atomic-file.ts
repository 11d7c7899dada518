// A file written whole or not at all: to a hidden temporary name beside it, then renamed into place. A reader (a
// watcher polling for a ready file, a scraper of report files, `lab down` reading the state) never sees half of one,
// and an interrupted writer leaves nothing under the name asked for.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileError } from './file-errors.js';

/** The temporary name a write to `path` goes to: beside it (same file system, so the rename is atomic), hidden. */
export const tempPathFor = (path: string): string => join(dirname(path), `.${basename(path)}.${process.pid}.partial`);

/** Writes `text` as the whole of `path`; errors say `doing` (e.g. 'write the ready file') and name `path`. */
export async function writeFileAtomic(path: string, text: string | Uint8Array, doing: string): Promise<void> {
  const temp = tempPathFor(path);
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw fileError(err, doing, path, 'write');
  }
}

/** writeFileAtomic for synchronous callers (the lab's state, saved between steps that must not interleave). */
export function writeFileAtomicSync(path: string, text: string): void {
  const temp = tempPathFor(path);
  try {
    writeFileSync(temp, text);
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // Never written: nothing to remove.
    }
    throw err;
  }
}
