// What the keys ask of a replay: pause, and steps of one window back or forward. The feeder (replay-feed.ts) acts on
// it between events; the screen reads it for the header.

/** How the app drives a replay: the keys' side of ReplayControl. */
export interface ReplayKeys {
  setPaused(paused: boolean): void;
  /** Moves `windows` windows forward (negative: back) from where the replay is. */
  step(windows: number): void;
}

export class ReplayControl implements ReplayKeys {
  paused = false;
  /** Trace time to move to (µs): set by a step, cleared when the feeder gets there. */
  target: number | null = null;
  /** Trace time fed up to (µs): the latest event fed, or a step's target once reached; NaN before the first. */
  position = Number.NaN;
  /** The first event's time: a step back goes no earlier. */
  start = Number.NaN;
  /** At the end of the trace (until a step back reads it again). */
  finished = false;
  /** Events in the whole trace, once it has been read to its end. */
  total: number | null = null;
  private waiting: (() => void)[] = [];
  private readonly listeners: (() => void)[] = [];

  constructor(readonly windowUs: number) {}

  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    this.changed();
  }

  step(windows: number): void {
    if (windows === 0 || Number.isNaN(this.position)) return;
    const from = this.target ?? this.position;
    this.target = Math.max(this.start, from + windows * this.windowUs);
    this.changed();
  }

  /** Whether the pending step goes back, before what has been fed: the trace must be read again from its start. */
  get goingBack(): boolean {
    return this.target !== null && this.target < this.position;
  }

  /** The feeder reached the step's target (or the end of the trace before it). */
  arrived(at: number): void {
    this.position = at;
    this.target = null;
    this.changed();
  }

  /** Events of `ts` were fed. */
  fed(ts: number): void {
    if (!(ts <= this.position)) this.position = ts;
    if (Number.isNaN(this.start)) this.start = ts;
  }

  /** Calls `fn` on every pause, resume, step and arrival. */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Resolves on the next pause, resume, step or arrival, after `ms` at most, or when `signal` aborts. */
  nextChange(signal: AbortSignal, ms = Number.POSITIVE_INFINITY): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        const i = this.waiting.indexOf(done);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      this.waiting.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Tells the listeners, and wakes the feeder. */
  changed(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w();
    for (const l of this.listeners) l();
  }
}
