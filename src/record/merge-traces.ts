// Several trace files read as one recording: their events merged in time order (equal times in the order the files
// were given), so traces recorded on each node separately report as one recording of all the nodes would.
import type { StickyEvent } from '../core/event.js';
import { readTrace, type ReadTraceOptions } from './trace-reader.js';

const OUT_BATCH = 4096;

interface Source {
  it: AsyncIterator<StickyEvent[]>;
  batch: StickyEvent[];
  next: number;
}

/** The events of `paths`, merged by `ts`, batch by batch; one path reads straight through. */
export async function* mergeTraces(
  paths: readonly string[],
  options: ReadTraceOptions = {},
): AsyncGenerator<StickyEvent[]> {
  if (paths.length === 1) {
    yield* readTrace(paths[0]!, options);
    return;
  }
  const sources: Source[] = [];
  const refill = async (s: Source): Promise<boolean> => {
    for (;;) {
      const r = await s.it.next();
      if (r.done) return false;
      if (r.value.length > 0) {
        s.batch = r.value;
        s.next = 0;
        return true;
      }
    }
  };
  try {
    for (const p of paths) {
      const s: Source = { it: readTrace(p, options), batch: [], next: 0 };
      sources.push(s);
      if (!(await refill(s))) sources.pop();
    }
    let out: StickyEvent[] = [];
    while (sources.length > 0) {
      let min = 0;
      for (let i = 1; i < sources.length; i++) {
        const a = sources[i]!;
        const m = sources[min]!;
        if (a.batch[a.next]!.ts < m.batch[m.next]!.ts) min = i;
      }
      const s = sources[min]!;
      out.push(s.batch[s.next++]!);
      if (s.next === s.batch.length && !(await refill(s))) sources.splice(min, 1);
      if (out.length >= OUT_BATCH) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  } finally {
    for (const s of sources) await s.it.return?.(undefined);
  }
}
