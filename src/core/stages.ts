// A long-running process (the agent, serve) as a list of stages, started in order and
// stopped in one loop, last first: at the end, and when a later stage fails to start, so
// that no start has its undo written twice. A stage's batch handler is attached to the
// process's stream of events once it has started, and detached before it stops.
import type { EventSource, StickyEvent } from './event.js';

export interface Stage {
  /** What it is, in the error of a stop that failed ("failed to stop NAME: ..."). */
  name: string;
  start(): Promise<void> | void;
  /** Undoes start; called once, and only after start succeeded. */
  stop?(): Promise<void> | void;
  /** Each batch of the process's stream while the stage runs. */
  onEvents?(events: StickyEvent[]): void;
}

export interface RunningStages {
  /** Stops the started stages, last first (every one, even when one fails: the first failure is thrown after). */
  stop(): Promise<void>;
}

export interface StagesOptions {
  /** The process's stream of events, whose batches go to each running stage's onEvents. */
  stream?: EventSource;
  /** Once it fires, no further stage starts: those started are stopped and startStages returns. */
  signal?: AbortSignal;
}

/** Starts `stages` in order; when one fails, those started are stopped and its error is thrown. */
export async function startStages(stages: readonly Stage[], opts: StagesOptions = {}): Promise<RunningStages> {
  const { stream, signal } = opts;
  const started: { stage: Stage; handler?: (events: StickyEvent[]) => void }[] = [];
  const stopAll = async () => {
    let failure: Error | undefined;
    for (const { stage, handler } of started.splice(0).reverse()) {
      if (handler) stream?.off('events', handler);
      try {
        await stage.stop?.();
      } catch (err) {
        failure ??= new Error(`failed to stop ${stage.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (failure) throw failure;
  };
  for (const stage of stages) {
    if (signal?.aborted) break;
    try {
      await stage.start();
    } catch (err) {
      // The start's own error is the one to say (its type sets the exit code); a failed undo is added to it.
      await stopAll().catch((undo: Error) => {
        if (err instanceof Error) err.message += `; then ${undo.message}`;
      });
      throw err;
    }
    const handler = stage.onEvents?.bind(stage);
    if (handler) stream?.on('events', handler);
    started.push({ stage, handler });
  }
  let stopping: Promise<void> | undefined;
  const running = { stop: () => (stopping ??= stopAll()) };
  if (signal?.aborted) await running.stop();
  return running;
}
