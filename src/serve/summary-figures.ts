// `serve --summaries` and `report --summaries`: the /metrics figures and the report made
// from the agents' summaries (summary-store.ts) instead of their raw events. Names,
// endpoints, affinity and gaps still come from the reducer state, which gets the catalog,
// lost and node events the summaries carry.
import { compareAddr } from '../aggregator/addresses.js';
import type { AggregatorState } from '../aggregator/state.js';
import { spreadOf } from '../aggregator/stats.js';
import { isoMicros, type ServiceInfo } from '../core/event.js';
import { missingSpans } from '../report/build-report.js';
import type { Report, ServiceReport } from '../report/types.js';
import type { RejectedEvents } from '../protocol/validate.js';
import type { ServiceFigures, ServiceSnapshot } from './service-metrics.js';
import type { Sums, SummaryStore } from './summary-store.js';

const NO_AFFINITY: ServiceInfo['affinity'] = { mode: 'None', timeoutSeconds: null, source: 'inferred' };

/** The backends of a Service for K: those listed by some node or the catalogs, and those selected, by address. */
function shown(store: SummaryStore, state: AggregatorState, key: string, sums: Sums): string[] {
  const names = new Set(store.listedBackends(key));
  const svc = state.services.ofKey(key);
  for (const b of svc.currentEndpoints()) names.add(svc.backendNames[b]!);
  for (const [b, n] of sums.backends) if (n > 0) names.add(b);
  return [...names].sort(compareAddr);
}

const count = (s: Sums, b: string) => s.backends.get(b) ?? 0;
const selectionsOf = (s: Sums) => {
  let n = 0;
  for (const v of s.backends.values()) n += v;
  return n;
};

/** /metrics figures of the `max` Services with the most selections since serve began. */
export function summaryFigures(
  store: SummaryStore,
  state: AggregatorState,
  windowSeconds: number,
  max: number,
  nowMs = Date.now(),
): ServiceSnapshot {
  const all = [...store.totals.entries()].map(([key, sums]) => ({ key, sums, n: selectionsOf(sums) }));
  const top = all.sort((a, b) => b.n - a.n || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).slice(0, max);
  const services = top.map(({ key, sums, n }): ServiceFigures => {
    const win = store.window(key, windowSeconds, nowMs);
    const winSel = selectionsOf(win);
    const backendsWin = shown(store, state, key, win);
    const spread = spreadOf(backendsWin.map((b) => count(win, b)));
    const c = sums.counts;
    const settled = c.listFull + c.setFull + c.crossFrontend + c.unknown;
    const ever = shown(store, state, key, sums);
    return {
      service: state.services.ofKey(key).latest?.info.name ?? key,
      address: key,
      selectionsTotal: n,
      windowSelections: winSel,
      maxOverMean: spread.maxOverMean,
      jain: spread.jain,
      chi2P: spread.chi2P,
      stickiness: win.counts.pairs > 0 ? win.counts.sameBackend / win.counts.pairs : null,
      randomStickiness: backendsWin.length > 0 ? 1 / backendsWin.length : null,
      verdictsTotal: { held: c.held, violation: c.violations, forcedRepick: c.forcedRepick, expired: c.expired },
      violationCausesTotal: {
        listFull: c.listFull,
        setFull: c.setFull,
        crossFrontend: c.crossFrontend,
        unknown: c.unknown,
      },
      violationsPending: Math.max(0, c.violations - settled),
      divergentClients: null,
      // Summaries count per Service, not per family: per-family counts need the raw stream.
      familyTotal: null,
      clientsEstimate: store.sketches.get(key)?.estimate() ?? null,
      udpTotal: key.endsWith('/udp')
        ? {
            replacements: c.udpReplacements,
            backendChanged: c.udpBackendChanged,
            reflectiveChanged: c.udpReflectiveChanged,
          }
        : null,
      backends: ever.map((backend) => ({
        backend,
        selectionsTotal: count(sums, backend),
        share: winSel > 0 ? count(win, backend) / winSel : null,
      })),
    };
  });
  return { services, omitted: all.length - services.length };
}

/** The report of a window (seconds) or of everything since serve began ('all'), from the summaries. */
export function summaryReport(
  store: SummaryStore,
  state: AggregatorState,
  window: number | 'all',
  rejected: RejectedEvents,
  nowMs = Date.now(),
): Report {
  const end = nowMs * 1000;
  const start = window === 'all' ? (Number.isNaN(state.firstTs) ? end : state.firstTs) : end - window * 1e6;
  const services = [...store.totals.keys()].sort(compareAddr).map((key): ServiceReport => {
    const t = window === 'all' ? store.totals.get(key)! : store.window(key, window, nowMs);
    const names = shown(store, state, key, t);
    const sel = selectionsOf(t);
    const c = t.counts;
    const latest = state.services.ofKey(key).latest;
    const report: ServiceReport = {
      service: key,
      name: latest?.info.name ?? null,
      affinity: latest ? { ...latest.info.affinity } : { ...NO_AFFINITY },
      selections: sel,
      backends: names.map((backend) => ({
        backend,
        selections: count(t, backend),
        share: sel > 0 ? count(t, backend) / sel : 0,
        clients: 0,
      })),
      spread: spreadOf(names.map((b) => count(t, b))),
      stickiness: {
        pairs: c.pairs,
        sameBackend: c.sameBackend,
        ratio: c.pairs > 0 ? c.sameBackend / c.pairs : null,
        expectedRandom: names.length > 0 ? 1 / names.length : null,
      },
      affinityVerdicts: {
        held: c.held,
        violation: c.violations,
        forcedRepick: c.forcedRepick,
        expired: c.expired,
        compliance: c.held + c.violations > 0 ? c.held / (c.held + c.violations) : null,
        violationCauses: {
          listFull: c.listFull,
          setFull: c.setFull,
          crossFrontend: c.crossFrontend,
          unknown: c.unknown,
        },
        // A node's reducer sends only judged verdicts: what waits for its rules is in none of its counts.
        pending: 0,
        expiredMoved: c.expiredMoved,
      },
      nodeDivergence: { clients: 0, examples: [] },
      affinitySets: state.affinitySets.of(key),
      clients: [],
      clientsEstimate: Math.round(store.sketches.get(key)?.estimate() ?? 0),
    };
    if (key.endsWith('/udp'))
      report.udpContinuity = {
        replacements: c.udpReplacements,
        backendChanged: c.udpBackendChanged,
        reflectiveChanged: c.udpReflectiveChanged,
      };
    return report;
  });
  return {
    window: {
      start: isoMicros(start),
      end: isoMicros(end),
      scope: window === 'all' ? 'cumulative' : 'window',
      seconds: window === 'all' ? null : window,
      truncated: false,
      missing: missingSpans(state, start, end),
    },
    nodes: [...state.roster.names].sort(),
    lostEvents: state.roster.lostTotal,
    services,
    evictions: { ...state.evictions, openViolations: state.causes.droppedOpen },
    rejectedEvents: rejected.toJSON(),
    summaries: { nodes: store.nodes, received: store.received, dropped: { ...store.dropped } },
  };
}
