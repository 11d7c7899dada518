// The live-connection figures of a report made from summaries (docs/design.md, "Live connections"): open connections
// per backend summed over the nodes' latest summaries, bytes from the growth of their cumulative counters. Summaries
// carry no connection's start and no client, so such a report has no oldest age, no predating connections and no
// per-client live rows.
import { spreadOf, spreadVerdict } from '../aggregator/stats.js';
import type { LiveSource, ServiceReport } from '../report/types.js';
import type { Sums, SummaryStore } from './consumer.js';

/** The nodes whose summaries say their helper reads conntrack, and whether each counts bytes; undefined when none. */
export function summaryLiveSource(store: SummaryStore): LiveSource | undefined {
  if (store.liveNodes.size === 0) return undefined;
  const nodes = [...store.liveNodes.keys()].sort();
  // fromEntries: a node named "__proto__" is a key like any other, not the object's prototype.
  const bytes = Object.fromEntries(nodes.map((n) => [n, store.liveNodes.get(n)!.bytes] as const));
  return { nodes, bytes, connectionsDropped: 0 };
}

/** Whether any node that reads conntrack counted bytes at its last sweep. */
function bytesCounted(store: SummaryStore): boolean {
  for (const l of store.liveNodes.values()) if (l.bytes) return true;
  return false;
}

/** Adds a Service's live figures to its report (backends named `names`, in the report's order); `seconds`: its span. */
export function addSummaryLiveFields(
  store: SummaryStore,
  key: string,
  t: Sums,
  names: readonly string[],
  report: ServiceReport,
  seconds: number,
): void {
  const open = store.liveOf(key) ?? new Map<string, number>();
  const counted = bytesCounted(store);
  const judged = (counts: number[]) => {
    const s = spreadOf(counts);
    return { ...s, verdict: spreadVerdict(s) };
  };
  const liveOf = (b: string) => open.get(b) ?? 0;
  const bytesOf = (b: string) => t.bytes.get(b) ?? 0;
  report.liveConnections = names.reduce((n, b) => n + liveOf(b), 0);
  report.loadSpread = {
    selections: judged(names.map((b) => t.backends.get(b) ?? 0)),
    liveConnections: judged(names.map(liveOf)),
    bytes: counted ? judged(names.map(bytesOf)) : null,
  };
  for (const row of report.backends) {
    const bytes = counted ? bytesOf(row.backend) : null;
    row.liveConnections = liveOf(row.backend);
    row.bytes = bytes;
    row.bytesPerSecond = bytes === null || !(seconds > 0) ? null : bytes / seconds;
    row.oldestConnectionSeconds = null;
  }
}
