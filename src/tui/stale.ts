// Which rows have stopped being fed: when the nodes behind a Service are all down, its figures are the last ones seen
// and must not read as live.
import type { NodeRoster } from '../aggregator/node-roster.js';
import type { ServiceRec } from '../aggregator/services.js';

/**
 * When every node that fed `rec` (a selection of it, or rules listing it) is down: those nodes and the latest of their
 * going down (µs), since when nothing can have come. Undefined while one of them is up, or before any fed it.
 */
export function staleOf(rec: ServiceRec, roster: NodeRoster): { since: number; nodes: string[] } | undefined {
  let since = Number.NEGATIVE_INFINITY;
  const nodes: string[] = [];
  for (let n = 0; n < roster.downSince.length; n++) {
    const view = rec.views[n];
    if (rec.lastByNode[n] === undefined && (view === undefined || view.removed)) continue;
    const down = roster.downSince[n]!;
    if (Number.isNaN(down)) return undefined;
    if (down > since) since = down;
    nodes.push(roster.names[n]!);
  }
  return nodes.length === 0 ? undefined : { since, nodes: nodes.sort() };
}
