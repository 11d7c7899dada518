// Reading a small file the user named (a certificate, a key, a kubeconfig) without hanging or filling memory: a FIFO
// would block the read for good (and with it SIGTERM's handling), a device like /dev/zero never ends. Only a regular
// file of a bounded size is read.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { InputError } from './errors.js';

/** Far beyond any certificate chain or kubeconfig seen, far below what hurts. */
const SMALL_FILE_MAX_BYTES = 4 * 1024 * 1024;

/** The file's bytes; InputError naming `what` and `path` when it is not a regular file or is larger than `max`. */
export function readSmallFile(path: string, what: string, max = SMALL_FILE_MAX_BYTES): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would itself block.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new InputError(
      `failed to read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new InputError(`failed to read ${what} ${path}: not a regular file (${kindOf(st)}); expected a file`);
    if (st.size > max)
      throw new InputError(`failed to read ${what} ${path}: ${st.size} bytes; expected at most ${max}`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}
