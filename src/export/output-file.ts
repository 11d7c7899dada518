// A file the export writes: to a hidden temporary name beside it, renamed into place only once complete, so an
// interrupted or failed export never leaves a partial file under the name asked for. A device or FIFO (/dev/null,
// /dev/full, a named pipe) is written directly: there is nothing to rename over.
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { tempPathFor } from '../core/atomic-file.js';
import { fileError } from '../core/file-errors.js';
import type { ByteSink } from './parquet-writer.js';

export interface OutputFile extends ByteSink {
  /** Makes the file appear under its name, complete. */
  commit(): Promise<void>;
  /** Removes what was written (the temporary file); the name asked for is left as it was. */
  abort(): Promise<void>;
}

export async function openOutputFile(path: string, doing: string): Promise<OutputFile> {
  const fail = (err: unknown): never => {
    throw fileError(err, doing, path, 'write');
  };
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) fail(Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
  const direct = existing !== null && !existing.isFile();
  const temp = direct ? path : tempPathFor(path);
  const fh: FileHandle = await open(temp, direct ? 'w' : 'wx').catch(fail);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  return {
    async write(chunk) {
      for (let off = 0; off < chunk.length; ) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off).catch(fail);
        off += bytesWritten;
      }
    },
    async commit() {
      if (!direct) await fh.sync().catch(fail);
      await close().catch(fail);
      if (!direct) await rename(temp, path).catch(fail);
    },
    async abort() {
      await close().catch(() => {});
      if (!direct) await unlink(temp).catch(() => {});
    },
  };
}
