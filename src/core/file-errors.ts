// Node's system errors from files (ENOENT, EISDIR, ENOSPC, ...) as the typed errors the
// CLI prints: one line saying what was being done, to which path, and why.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { open, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EnvironmentError, InputError } from './errors.js';

/** The errno code ('ENOENT', 'ENOSPC', ...) of a Node system error; undefined for anything else. */
export function systemErrorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

const reasons: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  EFBIG: 'file too large',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EPIPE: 'the reading end was closed',
  ENXIO: 'no such device or address',
  EBUSY: 'device or resource busy',
  ETXTBSY: 'text file busy',
  EEXIST: 'it already exists',
  EINVAL: 'invalid argument',
};

/** Codes that say the path given is wrong, rather than the machine being unable. */
const inputCodes = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EEXIST', 'ENXIO', 'EINVAL']);

/**
 * `err` as an InputError or EnvironmentError reading "failed to DOING PATH: why (CODE)",
 * e.g. fileError(e, 'write report to', '/nope/x.json', 'write') gives "failed to write
 * report to /nope/x.json: no such directory /nope (ENOENT)". Other errors come back unchanged.
 */
export function fileError(err: unknown, doing: string, path: string, mode: 'read' | 'write'): Error {
  const code = systemErrorCode(err);
  if (code === undefined) return err instanceof Error ? err : new Error(String(err));
  const why = code === 'ENOENT' ? missing(path, mode) : (reasons[code] ?? (err as Error).message);
  const message = `failed to ${doing} ${path}: ${why} (${code})`;
  return inputCodes.has(code) ? new InputError(message) : new EnvironmentError(message);
}

/** What ENOENT means for `path`: the first missing directory, or the file itself. */
function missing(path: string, mode: 'read' | 'write'): string {
  let gone: string | null = null;
  for (let dir = dirname(path); !existsSync(dir); dir = dirname(dir)) {
    gone = dir;
    if (dirname(dir) === dir) break;
  }
  if (gone !== null) return `no such directory ${gone}`;
  // The folder exists but refuses new files (e.g. /proc).
  return mode === 'read' ? 'no such file' : `${dirname(path)} does not allow creating files`;
}

/**
 * Opens a file the user named. open(2) lets a directory be opened for reading, and the
 * first read then fails without naming the path, so a directory is refused here.
 */
export async function openFile(path: string, flags: 'r' | 'w', doing: string): Promise<FileHandle> {
  const mode = flags === 'r' ? 'read' : 'write';
  let fh: FileHandle;
  try {
    fh = await open(path, flags);
  } catch (err) {
    throw fileError(err, doing, path, mode);
  }
  if (flags === 'r' && (await fh.stat()).isDirectory()) {
    await fh.close();
    throw fileError(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), doing, path, mode);
  }
  return fh;
}

/**
 * Checks, before a long run, that `path` can be written at its end: an existing
 * file is opened for appending (left as it is), a new one is created and removed again.
 */
export async function checkWritable(path: string, doing: string): Promise<void> {
  const existed = await stat(path).then(
    (s) => s,
    () => null,
  );
  if (existed?.isDirectory())
    throw fileError(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), doing, path, 'write');
  try {
    await (await open(path, existed ? 'a' : 'wx')).close();
    if (!existed) await unlink(path);
  } catch (err) {
    throw fileError(err, doing, path, 'write');
  }
}

/** Writes a whole text file the user named (an output given with -o or --report). */
export async function writeTextFile(path: string, text: string, doing: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (err) {
    throw fileError(err, doing, path, 'write');
  }
}

/**
 * mkdir -p of a directory the user named, one component at a time: Node's recursive mkdirSync never returns where
 * the kernel refuses a name under an existing directory with ENOENT (/proc/x spun for good). Errors are one line.
 */
export function makeDirectory(path: string, mode: number, doing: string): void {
  const missingDirs: string[] = [];
  for (let dir = path; !existsSync(dir); dir = dirname(dir)) {
    missingDirs.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missingDirs) {
    try {
      mkdirSync(dir, { mode });
    } catch (err) {
      throw fileError(err, doing, dir, 'write');
    }
  }
  if (!statSync(path).isDirectory())
    throw new InputError(`failed to ${doing} ${path}: a file of that name exists; expected a directory`);
}
