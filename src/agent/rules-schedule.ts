// When the agent reads the node's rules: on change where the kernel announces changes (nft-monitor.ts: both proxy
// modes with iptables-nft, which commits through nf_tables), else every `pollMs` as before; and, while nothing changed,
// watermarks saying so (rules-marks.ts) at no cost but a timer, only when events came that none covers.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { NftMonitor } from './nft-monitor.js';

const run = promisify(execFile);

export interface RulesScheduleOptions {
  /** Reads every family once (each family's failure reported by the caller, never thrown). */
  read: () => Promise<void>;
  /** The rules are known unchanged since before `atUs` (µs): no change was announced, none is being read. */
  unchangedAt: (atUs: number) => void;
  /** Whether a watermark is wanted now. */
  wanted: () => boolean;
  /** Watch `nft monitor` in this netns (undefined: the current one); null: poll only. */
  monitor: { netns?: string; onWarning: (message: string) => void } | null;
  /** Polling period while no monitor listens (ms). */
  pollMs: number;
  /** How often a watermark may go out while nothing changes (ms; default 250). */
  tickMs?: number;
  /**
   * How long an announced change may take to reach the agent (ms; default 100): a watermark claims the rules only
   * up to this long ago. nf_tables sends the notification inside the commit; this covers the monitor's and the
   * agent's scheduling.
   */
  slackMs?: number;
}

export class RulesSchedule {
  private readonly monitor: NftMonitor | null;
  private dirty = false;
  private reading = false;
  private debounce: NodeJS.Timeout | null = null;
  private readonly timer: NodeJS.Timeout;
  private lastPoll = Date.now();
  private stopped = false;

  constructor(private readonly opts: RulesScheduleOptions) {
    this.monitor = opts.monitor
      ? new NftMonitor({ netns: opts.monitor.netns, onChange: () => this.changed(), onWarning: opts.monitor.onWarning })
      : null;
    this.monitor?.start();
    this.timer = setInterval(() => this.tick(), Math.min(opts.tickMs ?? 250, opts.pollMs));
  }

  /** Something may have changed: one read soon (changes within 10 ms of each other share it). */
  changed(): void {
    this.dirty = true;
    if (this.debounce || this.reading || this.stopped) return;
    this.debounce = setTimeout(() => void this.readWhileDirty(), 10);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.monitor?.stop();
  }

  /** Reads until no change came during the last read; in a storm of changes, reads take at most 1/4 of the time. */
  private async readWhileDirty(): Promise<void> {
    this.debounce = null;
    this.reading = true;
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      this.lastPoll = Date.now();
      const started = performance.now();
      await this.opts.read();
      if (this.dirty) await new Promise((r) => setTimeout(r, 3 * (performance.now() - started)));
    }
    this.reading = false;
  }

  private tick(): void {
    const now = Date.now();
    const at = now - (this.opts.slackMs ?? 100);
    if (!this.monitor?.listenedSince(at)) {
      if (now - this.lastPoll >= this.opts.pollMs) this.changed();
      return;
    }
    if (this.dirty || this.reading || !this.opts.wanted()) return;
    this.opts.unchangedAt(at * 1000);
  }
}

/**
 * Whether `nft monitor` sees the node's rule changes: not with iptables-legacy (its tables are not nf_tables), nor
 * without nft. Asked once at start, of the tools the agent runs.
 */
export async function monitorSeesChanges(mode: 'iptables' | 'nftables' | undefined): Promise<boolean> {
  try {
    await run('nft', ['--version']);
    await run('setpriv', ['--version']);
    if (mode === 'nftables') return true;
    return !/legacy/.test((await run('iptables', ['-V'])).stdout);
  } catch {
    return false;
  }
}
