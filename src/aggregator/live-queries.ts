// What the live connections add up to for one Service: per backend (open now, the oldest, bytes), per client, the
// spread of load measured by new connections, open connections and bytes, and the connections that predate the
// Service's newest endpoints. O(connections open) per call: for reports and one Service's detail view.
import type { ServiceRec } from './services.js';
import type { AggregatorState } from './state.js';
import { spreadOf, spreadVerdict, type Spread, type SpreadVerdictName } from './stats.js';
import type { Tally } from './tally.js';

export type LoadSpread = Spread & { verdict: SpreadVerdictName };

interface BackendLoad {
  live: number;
  /** Bytes both ways in the window (or since tracing began, for cumulative figures). */
  bytes: number;
  /** When its oldest open connection began (µs), NaN with none; `oldestKnown` false: at least that old. */
  oldestStart: number;
  oldestKnown: boolean;
}

interface ClientLoad {
  live: number;
  /** Open connections by the Service's local backend index. */
  backends: Map<number, number>;
  bytes: number;
  nodes: Set<number>;
}

/** "3 of 3 open connections predate the 2 newest endpoints": the new pods get nothing until clients reconnect. */
export interface Predating {
  open: number;
  predating: number;
  /** Local backend indices of the endpoints that joined last, and when. */
  newest: number[];
  joinedTs: number;
}

export interface ServiceLoad {
  live: number;
  backends: Map<number, BackendLoad>;
  clients: Map<number, ClientLoad>;
  predating: Predating | null;
}

/** Whether any node that reads conntrack carried byte counters at its last sweep (undefined: no such node). */
export function bytesCounted(state: AggregatorState): boolean | undefined {
  let out: boolean | undefined;
  for (const a of state.live.acct) if (a !== undefined) out = (out ?? false) || a;
  return out;
}

export function serviceLoad(state: AggregatorState, svc: ServiceRec, inWindow: boolean): ServiceLoad {
  const live = state.live;
  const backends = new Map<number, BackendLoad>();
  const clients = new Map<number, ClientLoad>();
  const backendOf = (b: number): BackendLoad => {
    let l = backends.get(b);
    if (!l) {
      l = { live: 0, bytes: svc.load.bytesOf(b, inWindow), oldestStart: Number.NaN, oldestKnown: true };
      backends.set(b, l);
    }
    return l;
  };
  const clientOf = (c: number): ClientLoad => {
    let l = clients.get(c);
    if (!l) {
      l = { live: 0, backends: new Map(), bytes: 0, nodes: new Set() };
      clients.set(c, l);
    }
    return l;
  };
  for (let b = 0; b < svc.load.bytesCum.length; b++) backendOf(b);
  for (let p = 0; p < live.top; p++) {
    if (!live.alive[p] || live.svc[p] !== svc.id) continue;
    const b = live.backend[p]!;
    const l = backendOf(b);
    l.live++;
    const start = live.start[p]!;
    if (!(start >= l.oldestStart)) {
      l.oldestStart = start;
      l.oldestKnown = live.startKnown[p] === 1;
    }
    const c = clientOf(live.client[p]!);
    c.live++;
    c.backends.set(b, (c.backends.get(b) ?? 0) + 1);
    c.nodes.add(live.node[p]!);
  }
  if (inWindow) {
    const w = live.window;
    for (let i = 0; i < w.length; i++) {
      const j = w.at(i);
      if (w.svc[j] === svc.id) clientOf(w.client[j]!).bytes += w.bytes[j]!;
    }
  }
  return { live: svc.load.openTotal, backends, clients, predating: predatingOf(state, svc) };
}

/** The Service's endpoints that joined last (after tracing began, in one catalog change), and when; null: none did. */
export function newestEndpoints(svc: ServiceRec): { newest: number[]; joinedTs: number } | null {
  let joinedTs = Number.NaN;
  const newest: number[] = [];
  for (const b of svc.currentEndpoints()) {
    const t = svc.joinedTs[b];
    if (t === undefined || Number.isNaN(t) || t < joinedTs) continue;
    if (t > joinedTs || Number.isNaN(joinedTs)) newest.length = 0;
    joinedTs = t;
    newest.push(b);
  }
  return newest.length === 0 ? null : { newest, joinedTs };
}

/** The Service's newest endpoints and how many of its open connections began before them; null when none joined. */
function predatingOf(state: AggregatorState, svc: ServiceRec): Predating | null {
  const n = newestEndpoints(svc);
  if (!n) return null;
  const live = state.live;
  let predating = 0;
  for (let p = 0; p < live.top; p++)
    if (live.alive[p] && live.svc[p] === svc.id && live.start[p]! < n.joinedTs) predating++;
  return { open: svc.load.openTotal, predating, ...n };
}

/**
 * By Service id, in one pass for every Service: the latest start of an open connection (-Infinity with none), and the
 * nodes its open connections go through (a Service can have open connections and no selection in the window).
 */
export function liveByService(state: AggregatorState): { latest: Float64Array; nodes: Map<number, Set<number>> } {
  const n = state.services.list.length;
  const latest = new Float64Array(n).fill(-Infinity);
  const nodes = new Map<number, Set<number>>();
  // The node last added per Service: slots of one node mostly follow each other, so few Set operations.
  const lastNode = new Int32Array(n).fill(-1);
  const live = state.live;
  for (let p = 0; p < live.top; p++) {
    if (!live.alive[p]) continue;
    const s = live.svc[p]!;
    if (live.start[p]! > latest[s]!) latest[s] = live.start[p]!;
    const node = live.node[p]!;
    if (lastNode[s] === node) continue;
    lastNode[s] = node;
    const set = nodes.get(s);
    if (set) set.add(node);
    else nodes.set(s, new Set([node]));
  }
  return { latest, nodes };
}

/** "3 of 3 open connections predate the 2 newest endpoints", when every open connection does; else null. */
export function predatingText(p: Predating | null): string | null {
  if (!p || p.open === 0 || p.predating < p.open) return null;
  const k = p.newest.length;
  const conns = p.open === 1 ? 'open connection predates' : 'open connections predate';
  return `${p.predating} of ${p.open} ${conns} the ${k === 1 ? 'newest endpoint' : `${k} newest endpoints`}`;
}

/** Spread of load over `shown` backends measured three ways, each with the new-connection spread's verdict. */
export function loadSpreads(
  svc: ServiceRec,
  t: Tally,
  shown: readonly number[],
  inWindow: boolean,
): { selections: LoadSpread; liveConnections: LoadSpread; bytes: LoadSpread } {
  const judged = (counts: number[]): LoadSpread => {
    const s = spreadOf(counts);
    return { ...s, verdict: spreadVerdict(s) };
  };
  return {
    selections: judged(shown.map((b) => t.countOf(b))),
    liveConnections: judged(shown.map((b) => svc.load.openOf(b))),
    bytes: judged(shown.map((b) => svc.load.bytesOf(b, inWindow))),
  };
}
