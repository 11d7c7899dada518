// The agent's periodic tasks: never two runs of one task at once, and a period that grows with what a run costs, so a
// task that became expensive (a huge affinity set, 5,000 Services) cannot take more than its share of a core.

export interface PeriodicOptions {
  /** The shortest period, ms. */
  ms: number;
  /** The next run waits at least `costFactor` times the last run's duration: a run takes at most 1/costFactor of the time. */
  costFactor?: number;
  /** Checked before each run: false skips it (nothing to do), at no cost but the timer's. */
  when?: () => boolean;
}

/** Runs `task` periodically until stopped; its failures go to `onError`. Returns the stop function. */
export function every(
  opts: number | PeriodicOptions,
  task: () => Promise<void>,
  onError: (err: Error) => void,
): () => void {
  const { ms, costFactor = 0, when } = typeof opts === 'number' ? { ms: opts } : opts;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const loop = async () => {
    let delay = ms;
    if (!when || when()) {
      const started = performance.now();
      try {
        await task();
      } catch (err) {
        onError(err as Error);
      }
      delay = Math.max(ms, costFactor * (performance.now() - started));
    }
    if (!stopped) timer = setTimeout(loop, delay);
  };
  timer = setTimeout(loop, ms);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
