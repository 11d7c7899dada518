// A task the agent runs every so often (reading the affinity sets, xt_recent): never two at once, its failures said
// once until they change (a node whose rules stay unreadable warns once, not every second), skipped at the cost of a
// timer while there is nothing to do, and a period that grows with what a run costs, so a task that became expensive
// (a huge affinity set, 5,000 Services) cannot take more than its share of a core.
export interface PollerOptions {
  /** The next run waits at least `costFactor` times the last run's duration: a run takes at most 1/costFactor of the time. */
  costFactor?: number;
  /** Checked before each timed run: false skips it (nothing to do). */
  when?: () => boolean;
}

export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private lastWarning = '';

  constructor(
    private readonly ms: number,
    private readonly task: () => Promise<void>,
    private readonly onWarning?: (message: string) => void,
    private readonly opts: PollerOptions = {},
  ) {}

  /** Runs the task once now; a failure is warned, not thrown. */
  async once(): Promise<void> {
    try {
      await this.task();
    } catch (err) {
      const message = (err as Error).message;
      if (message === this.lastWarning) return;
      this.lastWarning = message;
      this.onWarning?.(message);
    }
  }

  /** Runs the task every `ms` (or longer, see PollerOptions) from now until stop(). */
  start(): void {
    this.stopped = false;
    const loop = async () => {
      let delay = this.ms;
      if (!this.opts.when || this.opts.when()) {
        const started = performance.now();
        await this.once();
        delay = Math.max(this.ms, (this.opts.costFactor ?? 0) * (performance.now() - started));
      }
      if (!this.stopped) this.timer = setTimeout(loop, delay);
    };
    this.timer = setTimeout(loop, this.ms);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
