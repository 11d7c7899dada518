// Every process and clean-up step the bench makes, so that one call undoes them all:
// at the end, on failure and on Ctrl-C. Processes are ended by the pid we spawned.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void> | void> = [];
let aborted = false;

export class Aborted extends Error {
  constructor() {
    super('bench interrupted');
  }
}

export function checkAborted(): void {
  if (aborted) throw new Aborted();
}

/** Ctrl-C: stop what runs now; the caller's finally block then cleans up. */
export function abortAll(): void {
  aborted = true;
  for (const c of children) c.kill('SIGTERM');
}

export function track(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
  checkAborted();
  const child = spawn(cmd, args, opts);
  children.add(child);
  child.on('close', () => children.delete(child));
  return child;
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** Stops every child, then runs the clean-up steps newest first; reports but survives their failures. */
export async function cleanupAll(): Promise<string[]> {
  const problems: string[] = [];
  await Promise.all([...children].map((c) => stopChild(c)));
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return problems;
}
