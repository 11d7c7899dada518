// Rule changes as the kernel announces them: `nft monitor` in the node's network namespace, a long-lived child whose
// output is only a trigger (a line = something in nf_tables changed; the rules are then read in full). iptables-nft
// commits through nf_tables as well, so this serves both proxy modes; iptables-legacy does not, and nodes without nft
// fall back to polling. The child is restarted if it dies; until it is listening again the rules are polled.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface NftMonitorOptions {
  netns?: string;
  /** Something changed (or may have: the monitor just (re)started); called at most once per line. */
  onChange: () => void;
  /** The monitor stopped or could not start, with why; it is retried. */
  onWarning: (message: string) => void;
  /** First delay before a restart (doubling to 30 s); default 1000 ms. */
  restartMs?: number;
  /** Command to run instead of nft (tests). */
  command?: string[];
}

/** Time for `nft monitor` to subscribe after it is spawned, before its silence means anything. */
const SUBSCRIBE_MS = 200;

export class NftMonitor {
  private child: ChildProcess | null = null;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private delay: number;
  /** Since when (ms, wall clock) it has been listening without a break; NaN while it is not. */
  listeningSince = Number.NaN;

  constructor(private readonly opts: NftMonitorOptions) {
    this.delay = opts.restartMs ?? 1000;
  }

  start(): void {
    if (this.stopped) return;
    // Killed with the agent, even a SIGKILLed one (parent-death signal, kept across nsenter's exec): an orphaned
    // monitor would wait for the next rule change to notice its pipe is gone.
    const argv = this.opts.command ?? [
      'setpriv',
      '--pdeathsig',
      'KILL',
      '--',
      ...(this.opts.netns ? ['nsenter', `--net=${this.opts.netns}`] : []),
      'nft',
      'monitor',
    ];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString();
    });
    const spawnedAt = Date.now();
    const ready = setTimeout(() => {
      if (this.child !== child) return;
      this.listeningSince = spawnedAt + SUBSCRIBE_MS;
      this.delay = this.opts.restartMs ?? 1000;
      // Whatever changed before it listened was not announced: one read catches up.
      this.opts.onChange();
    }, SUBSCRIBE_MS);
    createInterface({ input: child.stdout! }).on('line', () => {
      if (this.child === child) this.opts.onChange();
    });
    const gone = (why: string) => {
      clearTimeout(ready);
      if (this.child !== child) return;
      this.child = null;
      this.listeningSince = Number.NaN;
      if (this.stopped) return;
      this.opts.onWarning(`rule changes are polled: '${argv.join(' ')}' ${why}; retrying in ${this.delay / 1000} s`);
      this.opts.onChange();
      this.restartTimer = setTimeout(() => this.start(), this.delay);
      this.delay = Math.min(this.delay * 2, 30_000);
    };
    child.on('error', (err) => gone(`could not start (${err.message})`));
    // 'close', not 'exit': its last lines are read first.
    child.on('close', (code, signal) =>
      gone(`ended (${signal ?? `exit ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''})`),
    );
  }

  /** Whether it has listened without a break since `ms` (wall clock): no line since then means no change. */
  listenedSince(ms: number): boolean {
    return this.listeningSince <= ms;
  }

  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = null;
    this.listeningSince = Number.NaN;
    if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGTERM');
  }
}
