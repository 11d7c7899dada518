// Per-client figures for a report: a pass over the window's selections, or over the
// kept (node, service, client) entries for cumulative figures. Costs O(selections in
// the window) or O(pairs), so it is for reports, not for every UI frame.
import { NO_ENTRY } from './backend-counts.js';
import type { AggregatorState } from './state.js';
import { isViolation, SAME, Verdict, VERDICT } from './tally.js';

export interface ClientAgg {
  selections: number;
  /** Selections by the service's local backend index. */
  backends: Map<number, number>;
  pairs: number;
  same: number;
  /** Pairs judged an affinity violation. */
  violations: number;
  /** Last backend by node. */
  lastByNode: Map<number, number>;
}

/** Service id -> client key -> figures. */
export type ClientsByService = Map<number, Map<number, ClientAgg>>;

function aggOf(out: ClientsByService, svc: number, client: number): ClientAgg {
  let m = out.get(svc);
  if (!m) {
    m = new Map();
    out.set(svc, m);
  }
  let a = m.get(client);
  if (!a) {
    a = { selections: 0, backends: new Map(), pairs: 0, same: 0, violations: 0, lastByNode: new Map() };
    m.set(client, a);
  }
  return a;
}

/** Clients as seen in the window: pairs whose second selection lies in the window. */
export function windowClients(state: AggregatorState): ClientsByService {
  const out: ClientsByService = new Map();
  const r = state.ring;
  for (let i = 0; i < r.length; i++) {
    const j = r.at(i);
    const a = aggOf(out, r.svc[j]!, r.client[j]!);
    const b = r.backend[j]!;
    const code = r.code[j]!;
    a.selections++;
    a.backends.set(b, (a.backends.get(b) ?? 0) + 1);
    if ((code & VERDICT) !== Verdict.first) a.pairs++;
    if (code & SAME) a.same++;
    if (isViolation(code)) a.violations++;
    a.lastByNode.set(r.node[j]!, b);
  }
  return out;
}

/** Clients over everything still kept (entries dropped by expiry or the pair cap are gone). */
export function cumulativeClients(state: AggregatorState): ClientsByService {
  const out: ClientsByService = new Map();
  const p = state.pairs;
  const c = state.counts;
  for (const i of p.all()) {
    const a = aggOf(out, p.svc[i]!, p.client[i]!);
    a.selections += p.selections[i]!;
    a.pairs += p.selections[i]! - 1;
    a.same += p.same[i]!;
    a.violations += p.violations[i]!;
    a.lastByNode.set(p.node[i]!, p.lastBackend[i]!);
    for (let e = p.countHead[i]!; e !== NO_ENTRY; e = c.next[e]!) {
      a.backends.set(c.backend[e]!, (a.backends.get(c.backend[e]!) ?? 0) + c.count[e]!);
    }
  }
  return out;
}
