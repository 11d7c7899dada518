// The one adapter from the aggregator's state to the view model. Per frame it costs
// O(services x backends) for the list, plus, for the one opened service, its most
// recent clients and one pass over the window's selections for the sparkline.
import { topologyOf } from '../aggregator/topology.js';
import { parseIsoMicros } from '../core/event.js';
import { windowSpan } from '../aggregator/span.js';
import { verdictHead } from '../aggregator/spread-verdict.js';
import { compareAddr } from '../aggregator/addresses.js';
import {
  bytesCounted,
  liveByService,
  newestEndpoints,
  predatingText,
  serviceLoad,
  type ServiceLoad,
} from '../aggregator/live-queries.js';
import { clientDetails, serviceSummaries } from '../aggregator/queries.js';
import type { Notable } from '../aggregator/notable.js';
import type { AggregatorState } from '../aggregator/state.js';
import { refusalOf } from '../aggregator/refused.js';
import { staleOf } from './stale.js';
import type { ServiceRec } from '../aggregator/services.js';
import type {
  BackendShare,
  ClientRow,
  HeaderView,
  NotableKind,
  NotableLine,
  ServiceDetail,
  ServiceRow,
  ViewModel,
} from './view-model.js';

export interface FrameOptions {
  focus: string | null;
  /** Header text saying where the events come from. */
  source: string;
  eventsPerSecond: number;
  /** Clients listed in the detail, most recently active first (default 200). */
  clientLimit?: number;
  /** Sparkline buckets across the window (default 60). */
  sparkBuckets?: number;
  /**
   * The time shown and rates are measured at (µs), when it runs on past the latest event (live agents: a quiet or dead
   * feed must not freeze the clock and the rates); by default the latest event's.
   */
  now?: number;
}

function refusedRow(rec: ServiceRec | undefined, names: readonly string[]): Pick<ServiceRow, 'noEndpoints'> {
  const r = rec ? refusalOf(rec, names) : null;
  return r ? { noEndpoints: r.mode } : {};
}

export function toViewModel(state: AggregatorState, opts: FrameOptions): ViewModel {
  const recs = new Map(state.services.list.map((s) => [s.key, s]));
  const sourced = state.live.sourced.some(Boolean);
  const live = sourced ? liveByService(state) : null;
  // Every node that reads conntrack said its entries carry no counters: bytes are unavailable, not 0.
  const noBytes = bytesCounted(state) === false;
  const windowSeconds = spanSeconds(state);
  const now = opts.now !== undefined && opts.now > state.lastTs ? opts.now : state.lastTs;
  // Rows go stale only when some node is down: the usual frame skips the pass over the nodes per Service.
  const anyDown = state.roster.downSince.some((d) => !Number.isNaN(d));
  const services = serviceSummaries(state, { now }).map((s): ServiceRow => {
    const rec = recs.get(s.service);
    const info = rec?.latest?.info;
    const pods = info?.pods;
    const load = rec?.load;
    let bytesSum = 0;
    const idx = s.backends.map((b) => rec?.backendOf(b.backend) ?? -1);
    if (load) for (const b of idx) bytesSum += load.bytesOf(b, true);
    const openTotal = load?.openTotal ?? 0;
    const stale = anyDown && rec ? staleOf(rec, state.roster) : undefined;
    return {
      service: s.service,
      ...(rec && rec.addresses.length > 1 ? { addresses: rec.addresses } : {}),
      name: s.name,
      affinity: info ? { mode: info.affinity.mode, timeoutSeconds: info.affinity.timeoutSeconds } : null,
      selections: s.selections,
      selectionsPerSecond: s.selectionsPerSecond,
      // A literal, not a spread: this runs per backend per frame, and spreading is ten times slower.
      backends: s.backends.map((b, i) => {
        const open = load ? load.openOf(idx[i]!) : 0;
        const bytes = load ? load.bytesOf(idx[i]!, true) : 0;
        const row: BackendShare = {
          backend: b.backend,
          pod: pods?.[b.backend] ?? null,
          selections: b.selections,
          share: b.share,
        };
        if (sourced)
          row.load = {
            live: open,
            liveShare: openTotal > 0 ? open / openTotal : 0,
            bytesPerSecond: noBytes ? null : windowSeconds > 0 ? bytes / windowSeconds : 0,
            bytesShare: bytesSum > 0 ? bytes / bytesSum : 0,
            oldestStart: null,
          };
        return row;
      }),
      maxOverMean: s.maxOverMean,
      chi2P: s.spread.p,
      spread: { verdict: s.spread.verdict, head: verdictHead(s.spread), text: s.spread.text },
      stickiness: s.stickiness,
      expectedRandom: s.expectedRandom,
      violations: s.violations,
      pending: s.pending,
      nodes: withLiveNodes(state, s.nodesReporting, rec && live?.nodes.get(rec.id)),
      ...refusedRow(rec, state.roster.names),
      ...(stale === undefined ? {} : { stale }),
      ...(live && rec ? { live: openTotal, predating: allPredate(rec, live.latest) } : {}),
      ...topoOf(state, rec),
    };
  });
  const row = opts.focus === null ? undefined : services.find((s) => s.service === opts.focus);
  const rec = row && recs.get(row.service);
  return {
    header: header(state, opts, now),
    services,
    detail: row && rec ? detail(state, row, rec, opts) : null,
  };
}

/** The row's TOPO cell: the window's same-zone share and whether a node falls back (with the API's catalog). */
function topoOf(state: AggregatorState, rec: ServiceRec | undefined): Pick<ServiceRow, 'topo'> {
  const t = rec && topologyOf(rec, state.roster.names, state.clusterNodes, true, false);
  return t ? { topo: { sameZoneShare: t.sameZoneShare, fallback: t.nodes.some((n) => n.fallback) } } : {};
}

function header(state: AggregatorState, opts: FrameOptions, now: number): HeaderView {
  const up: string[] = [];
  const down: string[] = [];
  state.roster.names.forEach((n, i) => {
    (Number.isNaN(state.roster.downSince[i]!) ? up : down).push(n);
  });
  return {
    nodesUp: up.sort(),
    nodesDown: down.sort(),
    eventsPerSecond: opts.eventsPerSecond,
    lostEvents: state.roster.lostTotal,
    windowSeconds: state.windowUs / 1e6,
    source: opts.source,
    now: Number.isNaN(now) ? null : now,
    counted: windowSpan(state),
  };
}

/** The predating line when every open connection began before the newest endpoints joined (one pass for all). */
function allPredate(rec: ServiceRec, latest: Float64Array): string | null {
  const open = rec.load.openTotal;
  if (open === 0) return null;
  const n = newestEndpoints(rec);
  if (!n || !(latest[rec.id]! < n.joinedTs)) return null;
  return predatingText({ open, predating: open, ...n });
}

/** The nodes with a selection in the window, and those the Service's open connections go through (not down). */
function withLiveNodes(state: AggregatorState, selecting: string[], live: Set<number> | undefined): string[] {
  if (!live) return selecting;
  const out = new Set(selecting);
  for (const n of live) if (Number.isNaN(state.roster.downSince[n]!)) out.add(state.roster.names[n]!);
  return out.size === selecting.length ? selecting : [...out].sort();
}

/** Seconds the window spans so far: the window, or less while the events cover less. */
function spanSeconds(state: AggregatorState): number {
  if (Number.isNaN(state.lastTs)) return 0;
  return Math.min(state.windowUs, state.lastTs - state.firstTs) / 1e6;
}

function detail(state: AggregatorState, row: ServiceRow, rec: ServiceRec, opts: FrameOptions): ServiceDetail {
  const pods = rec.latest?.info.pods;
  const load = row.live === undefined ? null : serviceLoad(state, rec, true);
  const clients = clientDetails(state, row.service, opts.clientLimit ?? 200).map(
    (c): ClientRow => ({
      client: c.client,
      node: c.node,
      backend: c.backend,
      pod: pods?.[c.backend] ?? null,
      picks: c.picks,
      stickiness: c.stickiness,
      lastSelection: parseIsoMicros(c.lastSelection),
      lastSwitch: c.lastSwitch && {
        ts: parseIsoMicros(c.lastSwitch.at),
        from: c.lastSwitch.from,
        verdict: c.lastSwitch.verdict,
      },
      ...(load ? { live: load.clients.get(state.clients.keyOf(c.client))?.live ?? 0 } : {}),
    }),
  );
  if (load) addLiveClients(state, rec, load, clients, opts.clientLimit ?? 200);
  const oldest = new Map([...(load?.backends ?? [])].map(([b, l]) => [rec.backendNames[b]!, l]));
  const withOldest = {
    ...row,
    backends: row.backends.map((b) => {
      const l = oldest.get(b.backend);
      return l && l.live > 0 && b.load
        ? { ...b, load: { ...b.load, oldestStart: l.oldestStart, oldestKnown: l.oldestKnown } }
        : b;
    }),
  };
  const buckets = opts.sparkBuckets ?? 60;
  return {
    row: withOldest,
    windowSeconds: Math.ceil(spanSeconds(state)),
    clients,
    sparkline: selectionsOverWindow(state, rec.id, buckets),
    bucketSeconds: state.windowUs / 1e6 / buckets,
    affinitySets: rec.addresses
      .flatMap((a) => state.affinitySets.of(a))
      .map((a) => ({ node: a.node, endpoint: a.endpoint, elements: a.elements, size: a.size })),
    topology: topologyOf(rec, state.roster.names, state.clusterNodes, true) ?? null,
    frontends:
      rec.addresses.length > 1
        ? rec.addresses
            .map((address, f) => ({ address, selections: rec.frontendWin[f] ?? 0 }))
            .sort((a, b) => compareAddr(a.address, b.address))
        : null,
    families:
      rec.ipv6Win > 0 || rec.addresses.some((a) => a.startsWith('['))
        ? {
            addresses: [...rec.addresses].sort(compareAddr),
            ipv4: rec.win.selections - rec.ipv6Win,
            ipv6: rec.ipv6Win,
          }
        : null,
  };
}

/**
 * Clients holding open connections that no selection row lists (they connected before tracing began): one row each,
 * on the backend of their open connections, after the selection rows and within the same limit.
 */
function addLiveClients(
  state: AggregatorState,
  rec: ServiceRec,
  load: ServiceLoad,
  rows: ClientRow[],
  limit: number,
): void {
  const listed = new Set(rows.map((r) => r.client));
  const pods = rec.latest?.info.pods;
  for (const [key, c] of load.clients) {
    if (rows.length >= limit) return;
    const client = state.clients.name(key);
    if (c.live === 0 || listed.has(client)) continue;
    const backend = rec.backendNames[[...c.backends.keys()][0]!]!;
    rows.push({
      client,
      node: state.roster.names[[...c.nodes][0]!]!,
      backend,
      pod: pods?.[backend] ?? null,
      picks: 0,
      stickiness: null,
      lastSelection: Number.NaN,
      lastSwitch: null,
      live: c.live,
    });
  }
}

/** Selections of one service per bucket of the window ending at the latest event, oldest bucket first. */
function selectionsOverWindow(state: AggregatorState, svc: number, buckets: number): number[] {
  const out = new Array<number>(buckets).fill(0);
  if (Number.isNaN(state.lastTs)) return out;
  const start = state.lastTs - state.windowUs;
  const width = state.windowUs / buckets;
  const r = state.ring;
  for (let i = 0; i < r.length; i++) {
    const j = r.at(i);
    if (r.svc[j] !== svc) continue;
    const b = Math.floor((r.ts[j]! - start) / width);
    out[Math.max(0, Math.min(buckets - 1, b))]!++;
  }
  return out;
}

export interface NotableOptions {
  /** Most lines printed per drain: beyond, one line sums up the rest (default 40). */
  maxLines?: number;
  /** Service key -> display name. */
  names?: Map<string, string | null>;
  /** A fresh id per line. */
  nextId: () => string;
}

const plural: Record<Notable['kind'], string> = {
  violation: 'violations',
  backendChanged: 'backend changes',
  reflectiveChanged: 'reflective-address changes',
  nodeDown: 'nodes down',
  nodeUp: 'nodes up',
  lost: 'lost-event reports',
};

/** A violation's line says what is known of it: pending, forced after all, or a violation. */
function lineKind(n: Notable): NotableKind {
  if (n.kind !== 'violation') return n.kind;
  return n.verdict === 'forcedRepick' ? 'forcedRepick' : n.cause === 'pending' ? 'pending' : 'violation';
}

/** Lines for the event log. Node and lost-event lines are always printed; the rest up to maxLines. */
export function toNotableLines(drained: { events: Notable[]; dropped: number }, opts: NotableOptions): NotableLine[] {
  const max = opts.maxLines ?? 40;
  const out: NotableLine[] = [];
  const skipped = new Map<Notable['kind'], number>();
  let printed = 0;
  for (const n of drained.events) {
    const always = n.kind === 'nodeDown' || n.kind === 'nodeUp' || n.kind === 'lost';
    if (!always && printed >= max) {
      skipped.set(n.kind, (skipped.get(n.kind) ?? 0) + 1);
      continue;
    }
    if (!always) printed++;
    out.push({ id: opts.nextId(), ts: n.ts, kind: lineKind(n), text: describe(n, opts.names) });
  }
  const last = drained.events.at(-1)?.ts ?? Date.now() * 1000;
  if (skipped.size > 0) {
    const parts = [...skipped].map(([k, c]) => `${c} ${plural[k]}`);
    out.push({
      id: opts.nextId(),
      ts: last,
      kind: 'skipped',
      text: `not printed (too many at once; counted in the panels): ${parts.join(', ')}`,
    });
  }
  if (drained.dropped > 0) {
    out.push({
      id: opts.nextId(),
      ts: last,
      kind: 'skipped',
      text: `${drained.dropped} notable events dropped before display (queue full; counted in the panels)`,
    });
  }
  return out;
}

function describe(n: Notable, names?: Map<string, string | null>): string {
  const svc = (key: string) => names?.get(key) ?? key;
  switch (n.kind) {
    case 'violation': {
      const move = `${n.client} → ${svc(n.service)}: ${n.from} → ${n.to} after ${n.gapSeconds.toFixed(1)}s on ${n.node}`;
      if (n.verdict === 'forcedRepick') return `${move} (forced: ${n.from} had gone from the node's rules)`;
      if (n.cause === 'pending') return `${move} (waiting for the node's rules to judge it)`;
      return `${move} (cause: ${n.cause})`;
    }
    case 'backendChanged':
      return `${n.client} → ${svc(n.service)}: new UDP entry went to ${n.to}, was ${n.from} (on ${n.node})`;
    case 'reflectiveChanged':
      return `${n.client} → ${svc(n.service)}: backend now sees ${n.to}, was ${n.from} (on ${n.node})`;
    case 'nodeDown':
      return n.reason ? `${n.node}: ${n.reason}` : n.node;
    case 'nodeUp':
      return n.node;
    case 'lost':
      return `${n.count} events lost on ${n.node}`;
  }
}
