// The report's live-connection figures (docs/design.md, "The report JSON"): present only when some node's helper reads
// its conntrack table, so a report of an older trace is what it was. Bytes are null where no node counted them
// (nf_conntrack_acct off).
import { isoMicros } from '../core/event.js';
import { compareAddr } from '../aggregator/addresses.js';
import { bytesCounted, loadSpreads, predatingText, serviceLoad } from '../aggregator/live-queries.js';
import type { ServiceRec } from '../aggregator/services.js';
import type { AggregatorState } from '../aggregator/state.js';
import type { Tally } from '../aggregator/tally.js';
import type { BackendReport, ClientReport, LiveSource, ServiceReport } from './types.js';

/** The nodes that read conntrack and whether each counts bytes; undefined when none does. */
export function liveSource(state: AggregatorState): LiveSource | undefined {
  const live = state.live;
  const nodes: [string, boolean | null][] = [];
  live.sourced.forEach((on, n) => {
    if (on) nodes.push([state.roster.names[n]!, live.acct[n] ?? null]);
  });
  if (nodes.length === 0) return undefined;
  nodes.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // fromEntries: a node named "__proto__" is a key like any other, not the object's prototype.
  return { nodes: nodes.map(([name]) => name), bytes: Object.fromEntries(nodes), connectionsDropped: live.dropped };
}

/** Adds a Service's live figures to its report, its backends' and its clients' (new rows for clients only open). */
export function addLiveFields(
  state: AggregatorState,
  svc: ServiceRec,
  t: Tally,
  shown: readonly number[],
  report: ServiceReport,
  opts: { inWindow: boolean; seconds: number },
): void {
  const load = serviceLoad(state, svc, opts.inWindow);
  const counted = bytesCounted(state) === true;
  const now = state.lastTs;
  report.liveConnections = load.live;
  const spreads = loadSpreads(svc, t, shown, opts.inWindow);
  report.loadSpread = { ...spreads, bytes: counted ? spreads.bytes : null };
  const p = load.predating;
  report.predatingConnections = p && {
    open: p.open,
    predating: p.predating,
    newestEndpoints: p.newest.map((b) => svc.backendNames[b]!).sort(),
    joined: isoMicros(p.joinedTs),
    text: predatingText(p),
  };
  const byName = new Map<string, BackendReport>(report.backends.map((b) => [b.backend, b]));
  for (const b of shown) {
    const row = byName.get(svc.backendNames[b]!)!;
    const l = load.backends.get(b);
    const bytes = counted ? (l?.bytes ?? 0) : null;
    row.liveConnections = l?.live ?? 0;
    row.bytes = bytes;
    row.bytesPerSecond = bytes === null || !(opts.seconds > 0) ? null : bytes / opts.seconds;
    row.oldestConnectionSeconds = l && l.live > 0 ? (now - l.oldestStart) / 1e6 : null;
  }
  const rows = new Map<string, ClientReport>(report.clients.map((c) => [c.client, c]));
  const before = report.clients.length;
  for (const [key, c] of load.clients) {
    const name = state.clients.name(key);
    let row = rows.get(name);
    if (!row) {
      if (c.live === 0) continue;
      row = { client: name, selections: 0, backends: {}, stickiness: null, violations: 0, nodes: [] };
      row.nodes = [...c.nodes].map((n) => state.roster.names[n]!).sort();
      rows.set(name, row);
      report.clients.push(row);
    }
    row.liveConnections = c.live;
    row.liveBackends = Object.fromEntries(
      [...c.backends].map(([b, n]) => [svc.backendNames[b]!, n] as const).sort(([x], [y]) => compareAddr(x, y)),
    );
    row.bytes = counted ? c.bytes : null;
  }
  if (report.clients.length > before) report.clients.sort((x, y) => compareAddr(x.client, y.client));
  for (const row of report.clients) {
    row.liveConnections ??= 0;
    row.liveBackends ??= {};
    row.bytes ??= counted ? 0 : null;
  }
}
