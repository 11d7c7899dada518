// The bench's own child processes (agent, aggregator): each prints one JSON line when
// ready, then answers every "stats" line on stdin with one JSON line, and exits when
// its stdin closes. Separate processes, so each one's CPU time is its own.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../../src/core/errors.js';
import { exited, stopChild, track } from './procs.js';

/**
 * Child side: `ready` once, then `stats()` per request. SIGINT and SIGTERM end it as
 * stdin's end does: a Ctrl-C reaches the whole process group, and the agent must take
 * its probe helper down before it goes.
 */
export function serveStats(ready: unknown, stats: () => unknown, onEnd: () => Promise<void>): void {
  process.stdout.write(JSON.stringify(ready) + '\n');
  const lines = createInterface({ input: process.stdin });
  lines.on('line', () => process.stdout.write(JSON.stringify(stats()) + '\n'));
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    void onEnd().finally(() => process.stdin.destroy());
  };
  lines.on('close', end);
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
}

export class Worker<Ready, Stats> {
  readonly child: ChildProcess;
  private readonly replies: Array<(line: string) => void> = [];
  private stderr = '';
  private readonly died: Promise<never>;
  readonly ready: Promise<Ready>;

  constructor(script: string, args: string[], opts: { nodeArgs?: string[] } = {}) {
    const path = fileURLToPath(new URL(`./${script}.js`, import.meta.url));
    this.child = track(process.execPath, [...(opts.nodeArgs ?? []), path, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-2000)));
    const lines = createInterface({ input: this.child.stdout! });
    lines.on('line', (l) => this.replies.shift()?.(l));
    const first = new Promise<string>((resolve) => this.replies.push(resolve));
    // A write to a dead worker fails with EPIPE; `died` says so with its stderr.
    this.child.stdin!.on('error', () => {});
    this.died = exited(this.child).then((code) => {
      throw new EnvironmentError(
        `failed to run bench ${script}: it exited (${code}): ${this.stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`,
      );
    });
    this.died.catch(() => {});
    this.ready = Promise.race([first.then((l) => JSON.parse(l) as Ready), this.died]);
  }

  stats(): Promise<Stats> {
    const reply = new Promise<Stats>((resolve) => {
      this.replies.push((l) => resolve(JSON.parse(l) as Stats));
      this.child.stdin!.write('stats\n');
    });
    return Promise.race([reply, this.died]);
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => void stopChild(this.child), 5000);
    await exited(this.child);
    clearTimeout(timer);
  }
}

export interface CpuSeconds {
  user: number;
  system: number;
}

export function cpuNow(): CpuSeconds {
  const u = process.cpuUsage();
  return { user: u.user / 1e6, system: u.system / 1e6 };
}
