// Timers for durations the user gives: setTimeout fires at once (with a warning) past
// 2^31-1 ms, about 24.8 days, so longer waits are chained from shorter timers.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` once `ms` have passed; the returned function cancels it. */
export function longTimeout(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = left > MAX_TIMER_MS ? setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(fn, left);
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/** Resolves after `ms`, or at once when `signal` fires. */
export function longSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = longTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
