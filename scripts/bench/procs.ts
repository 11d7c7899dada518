// Every process and clean-up step the bench makes, so that one call undoes them all:
// at the end, on failure and when interrupted. Processes are ended by the pid we spawned.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void> | void> = [];
const controller = new AbortController();

/** Fired once, by `interrupt()`; its reason is an `Aborted`. Pass it to whatever can stop early. */
export const interrupted: AbortSignal = controller.signal;

export class Aborted extends Error {
  constructor(readonly why: string) {
    super(`interrupted (${why})`);
  }
}

export function checkAborted(): void {
  if (interrupted.aborted) throw interrupted.reason;
}

/** Stops what runs now (floods, consumers, workers) and makes every later step throw `Aborted`. */
export function interrupt(why: string): void {
  if (interrupted.aborted) return;
  controller.abort(new Aborted(why));
  for (const c of children) c.kill('SIGTERM');
}

/**
 * `npm run bench` runs us under `sh -c`: a SIGTERM to npm is forwarded to that shell,
 * which dies of it without passing it on, and we are reparented. Take that as an
 * interruption too, or the lab would outlive the run nobody waits for any more.
 */
export function interruptWhenOrphaned(pollMs = 250): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      interrupt(`parent process ${parent} exited`);
    }
  }, pollMs);
  timer.unref();
}

export function track(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
  checkAborted();
  const child = spawn(cmd, args, opts);
  children.add(child);
  child.on('close', () => children.delete(child));
  return child;
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (hasExited(child)) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (hasExited(child)) return;
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

/** CPU nanoseconds of every thread of a process so far (their schedstat: time on a CPU). */
export function cpuNs(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {}
  }
  return ns;
}
