// What a live UI reads every frame: per-service figures from the window tallies
// (O(services x backends)), the most recently active clients of one service, and the
// queue of notable events.
import { isoMicros } from '../core/event.js';
import { compareAddr } from './addresses.js';
import type { Notable } from './notable.js';
import type { AggregatorState } from './state.js';
import { serviceSpread, type SpreadVerdict } from './spread-verdict.js';
import { spreadOf } from './stats.js';
import { Verdict, VERDICT, verdictName, type VerdictName } from './tally.js';
import type { ViolationCause } from './violation-causes.js';

export interface ServiceSummary {
  service: string;
  name: string | null;
  /** Mean over the last `rateSeconds` whole seconds. */
  selectionsPerSecond: number;
  /** Selections in the window. */
  selections: number;
  backends: { backend: string; selections: number; share: number }[];
  maxOverMean: number | null;
  /** Over selections, whatever the affinity: the spread's verdict (below) is the one to show. */
  chi2P: number | null;
  /** Over independent picks: each client's pick per affinity period under ClientIP affinity. */
  spread: SpreadVerdict;
  stickiness: number | null;
  expectedRandom: number | null;
  violations: number;
  /** Re-picks waiting for their node's rules (pending-verdicts.ts): in neither count beside. */
  pending: number;
  forcedRepicks: number;
  /** Nodes with a selection of this service in the window that are not down. */
  nodesReporting: string[];
}

/**
 * `now`: the time rates are measured at (µs), by default the latest event's; a live UI passes its running clock, so
 * that a rate falls when the events stop coming instead of keeping its last value.
 */
export function serviceSummaries(
  state: AggregatorState,
  opts: { rateSeconds?: number; now?: number } = {},
): ServiceSummary[] {
  const rateSeconds = opts.rateSeconds ?? 5;
  const now = opts.now ?? state.lastTs;
  const since = state.windowStart();
  const out: ServiceSummary[] = [];
  for (const svc of state.services.list) {
    const t = svc.win;
    const listed = svc.currentEndpoints();
    const shown = svc.backendsByAddress().filter((b) => listed.has(b) || t.countOf(b) > 0 || svc.load.openOf(b) > 0);
    const spread = spreadOf(shown.map((b) => t.countOf(b)));
    const nodes: string[] = [];
    svc.lastByNode.forEach((ts, n) => {
      if (ts >= since && Number.isNaN(state.roster.downSince[n]!)) nodes.push(state.roster.names[n]!);
    });
    out.push({
      service: svc.key,
      name: svc.latest?.info.name ?? null,
      selectionsPerSecond: Number.isNaN(now) ? 0 : svc.ratePerSecond(now, rateSeconds),
      selections: t.selections,
      backends: shown.map((b) => ({
        backend: svc.backendNames[b]!,
        selections: t.countOf(b),
        share: t.selections > 0 ? t.countOf(b) / t.selections : 0,
      })),
      maxOverMean: spread.maxOverMean,
      chi2P: spread.chi2P,
      spread: serviceSpread(svc, t, shown),
      stickiness: t.pairs > 0 ? t.same / t.pairs : null,
      expectedRandom: shown.length > 0 ? 1 / shown.length : null,
      violations: t.listFull + t.setFull + t.crossFrontend + t.unknown,
      pending: t.pending,
      forcedRepicks: t.forcedRepick,
      nodesReporting: nodes.sort(),
    });
  }
  return out.sort((a, b) => compareAddr(a.service, b.service));
}

export interface ClientDetail {
  client: string;
  node: string;
  /** Backend of the latest selection. */
  backend: string;
  picks: number;
  stickiness: number | null;
  lastSelection: string;
  /**
   * The latest pick that moved to another backend (it moved to `backend`); a violation's
   * `cause` is `unknown` while it may still be found `listFull` (violation-causes.ts).
   */
  lastSwitch: { at: string; from: string; verdict: VerdictName | null; cause?: ViolationCause } | null;
}

/**
 * The `limit` most recently active (node, client) entries of a service ("ip:port/proto"),
 * newest first. Walks entries newest first, so a busy service costs about `limit` steps.
 */
export function clientDetails(state: AggregatorState, service: string, limit = 100): ClientDetail[] {
  const p = state.pairs;
  const svc = state.services.list.find((s) => s.key === service || s.addresses.includes(service));
  if (!svc) return [];
  const out: ClientDetail[] = [];
  for (const i of p.newestFirst()) {
    if (out.length >= limit) break;
    if (p.svc[i] !== svc.id) continue;
    const picks = p.selections[i]!;
    out.push({
      client: state.clients.name(p.client[i]!),
      node: state.roster.names[p.node[i]!]!,
      backend: svc.backendNames[p.lastBackend[i]!]!,
      picks,
      stickiness: picks > 1 ? p.same[i]! / (picks - 1) : null,
      lastSelection: isoMicros(p.lastTs[i]!),
      lastSwitch:
        p.switchFrom[i] === -1
          ? null
          : {
              at: isoMicros(p.switchTs[i]!),
              from: svc.backendNames[p.switchFrom[i]!]!,
              verdict: verdictName(p.switchCode[i]!),
              ...causeOf(p.switchCode[i]!),
            },
    });
  }
  return out;
}

function causeOf(code: number): { cause?: ViolationCause } {
  const v = code & VERDICT;
  return v === Verdict.violationListFull
    ? { cause: 'listFull' }
    : v === Verdict.violationSetFull
      ? { cause: 'setFull' }
      : v === Verdict.violationCrossFrontend
        ? { cause: 'crossFrontend' }
        : v === Verdict.violationUnknown
          ? { cause: 'unknown' }
          : {};
}

/** Notable events since the last drain, oldest first, and how many were dropped unseen. */
export function drainNotable(state: AggregatorState): { events: Notable[]; dropped: number } {
  return state.notable.drain();
}
