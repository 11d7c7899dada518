// A recording narrowed after the fact, as an incident review asks: a time range (--since, --until) and the Services
// named (--service), matched the way an agent matches its subscribers' filters. The node's state (catalogs, affinity
// sets, node up/down) from before the range is kept, so the range's flows are named and judged by the rules in force.
import { isoMicros, type StickyEvent } from '../core/event.js';
import { entryMatches, scopeCatalogs } from '../core/service-scope.js';
import { compileFilter } from '../protocol/event-filter.js';

export interface Narrowing {
  /** Microseconds since the epoch; events before it are left out (the node's state from before is kept). */
  since?: number;
  /** Microseconds since the epoch; events at or after it are left out. */
  until?: number;
  /** --service entries: "ip:port/proto" or "ns/name[:port]". */
  services?: string[];
}

/** Events that describe the node rather than a moment's traffic: kept from before `since`. */
const STATE_TYPES = new Set<StickyEvent['type']>(['catalog', 'affinitySets', 'node']);

export function narrows(n: Narrowing): boolean {
  return n.since !== undefined || n.until !== undefined || (n.services?.length ?? 0) > 0;
}

/** The batches narrowed; says once, at the end, when the range held no events, and what the recording spans. */
export async function* narrowEvents(
  batches: AsyncIterable<StickyEvent[]>,
  n: Narrowing,
  onWarning: (message: string) => void,
): AsyncGenerator<StickyEvent[]> {
  const since = n.since ?? -Infinity;
  const until = n.until ?? Infinity;
  const entries = n.services ?? [];
  const byFilter = entries.length > 0 ? compileFilter({ services: entries }) : () => true;
  // Flows of older agents may lack serviceName: a Service named in a catalog is matched by its address too.
  const named = new Set<string>();
  const wanted = (e: StickyEvent) =>
    byFilter(e) ||
    ((e.type === 'dnat' || e.type === 'snat' || e.type === 'insert') && named.has(`${e.service}/${e.proto}`));
  let first = Infinity;
  let last = -Infinity;
  let kept = 0;
  const inRange = (e: StickyEvent) => {
    if (e.type === 'catalog')
      for (const s of e.services) if (entries.some((entry) => entryMatches(entry, s))) named.add(s.service);
    if (STATE_TYPES.has(e.type)) return e.ts < until;
    if (e.ts < first) first = e.ts;
    if (e.ts > last) last = e.ts;
    if (e.ts < since || e.ts >= until || !wanted(e)) return false;
    kept++;
    return true;
  };
  const timed = (async function* () {
    for await (const batch of batches) {
      const out = batch.filter(inRange);
      if (out.length > 0) yield out;
    }
  })();
  yield* n.services ? scopeCatalogs(timed, n.services, onWarning) : timed;
  if (kept === 0 && (n.since !== undefined || n.until !== undefined)) {
    const span = first <= last ? `the recording spans ${isoMicros(first)} to ${isoMicros(last)}` : 'it holds no events';
    const asked = `${n.since === undefined ? 'the start' : isoMicros(n.since)} to ${n.until === undefined ? 'the end' : isoMicros(n.until)}`;
    onWarning(`no events from ${asked}; ${span}`);
  }
}
