// The trace files a command was pointed at: files as given, and for a directory every trace in it (by name), except
// the rotated continuations FILE.1, FILE.2, ... of a FILE in the same directory, which reading FILE follows.
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { fileError } from '../core/file-errors.js';
import { MAGIC } from './frame.js';

async function startsWithMagic(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(MAGIC.length);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return bytesRead === b.length && b.equals(MAGIC);
  } finally {
    await fh.close();
  }
}

/** Paths to read, in order; a directory's non-trace files are skipped and passed to `onSkipped`, one without traces refused. */
export async function traceFiles(paths: readonly string[], onSkipped: (path: string) => void): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const s = await stat(p).catch((err: unknown) => {
      throw fileError(err, 'open trace', p, 'read');
    });
    if (!s.isDirectory()) {
      out.push(p);
      continue;
    }
    const names = (
      await readdir(p).catch((err: unknown) => {
        throw fileError(err, 'list traces in', p, 'read');
      })
    ).sort();
    const traces: string[] = [];
    for (const name of names) {
      const full = join(p, name);
      const st = await stat(full).catch(() => null);
      if (!st?.isFile()) continue;
      if (await startsWithMagic(full).catch(() => false)) traces.push(name);
      else onSkipped(full);
    }
    if (traces.length === 0) throw new InputError(`no trace files in the directory ${p} (${names.length} entries)`);
    const present = new Set(traces);
    for (const name of traces) {
      const m = /^(.*)\.\d+$/.exec(name);
      if (!(m && present.has(m[1]!))) out.push(join(p, name));
    }
  }
  return out;
}
