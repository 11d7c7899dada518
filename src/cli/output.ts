// stdout as the CLI's output: a write error (a full disk, a closed pipe) stops the
// command instead of vanishing, and the process ends only once everything written has
// been handed to the pipe or file (a pipe takes 64 KiB at once; the rest is queued).
import { fileError, systemErrorCode } from '../core/file-errors.js';

const handlers: Array<() => void> = [];
let broken: unknown = null;
let failure: Error | null = null;

/**
 * Watches stdout. When it breaks, the handlers registered with onStdoutBroken run (the
 * command winds down and returns), or, if there are none, `unhandled` (nothing to
 * clean up: the process can end at once).
 */
export function guardOutput(unhandled: () => void): void {
  process.stdout.on('error', (err) => {
    note(err);
    if (broken !== null) return;
    broken = err;
    const hs = handlers.splice(0);
    if (hs.length === 0) unhandled();
    for (const h of hs) h();
  });
  // A broken stderr leaves nowhere to say anything; the exit code still tells.
  process.stderr.on('error', () => {});
}

/** Runs `fn` when stdout can take no more (at once if it already broke). */
export function onStdoutBroken(fn: () => void): void {
  if (broken !== null) fn();
  else handlers.push(fn);
}

/** The write error on stdout, as a typed error; null if none (a closed pipe is none: reading less is the reader's right). */
export function stdoutFailure(): Error | null {
  return failure;
}

/** Whether `err` is stdout's own error, rethrown by a command that waited on the stream. */
export function isStdoutError(err: unknown): boolean {
  return err !== null && err === broken;
}

/** Resolves once everything written so far to stdout and stderr has left the process. */
export async function drainOutput(): Promise<void> {
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
}

async function flush(stream: NodeJS.WriteStream): Promise<void> {
  // Nothing queued (a file or a device is written synchronously): an empty write would
  // still reach the device, and /dev/full refuses even that. Writes complete in order,
  // so otherwise this empty one completes after everything before it.
  if (!stream.destroyed && stream.writableLength > 0) await new Promise((resolve) => stream.write('', resolve));
  // A synchronous write's error is only emitted on the next tick: the stream holds it already.
  if (stream === process.stdout && stream.errored) note(stream.errored);
}

function note(err: unknown): void {
  const code = systemErrorCode(err);
  if (failure === null && code !== undefined && code !== 'EPIPE')
    failure = fileError(err, 'write to', 'stdout', 'write');
}
