// A task the agent runs every so often (reading the rules, the affinity sets, xt_recent):
// never two at once, and its failures said once until they change, so a node whose rules
// stay unreadable warns once, not every second.
export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private lastWarning = '';

  constructor(
    private readonly ms: number,
    private readonly task: () => Promise<void>,
    private readonly onWarning?: (message: string) => void,
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

  /** Runs the task every `ms` from now until stop(). */
  start(): void {
    this.stopped = false;
    const loop = async () => {
      await this.once();
      if (!this.stopped) this.timer = setTimeout(loop, this.ms);
    };
    this.timer = setTimeout(loop, this.ms);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
