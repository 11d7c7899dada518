// The report made from the summaries the consumer's store keeps (consumer.ts): the figures a
// node's summary carries, with names, endpoints, affinity and gaps from the reducer state.
import { compareAddr } from '../aggregator/addresses.js';
import type { Span } from '../aggregator/span.js';
import { judgeSpread, notJudged } from '../aggregator/spread-verdict.js';
import type { AggregatorState } from '../aggregator/state.js';
import { spreadOf } from '../aggregator/stats.js';
import { isoMicros, type ServiceInfo } from '../core/event.js';
import type { RejectedEvents } from '../protocol/validate.js';
import { missingSpans } from '../report/build-report.js';
import type { Report, ServiceReport } from '../report/types.js';
import type { Sums, SummaryStore } from './consumer.js';
import { addSummaryLiveFields, summaryLiveSource } from './live.js';

const NO_AFFINITY: ServiceInfo['affinity'] = { mode: 'None', timeoutSeconds: null, source: 'inferred' };

/** The backends of a Service for K: those listed by some node or the catalogs, and those selected or carrying bytes, by address. */
export function shown(store: SummaryStore, state: AggregatorState, key: string, sums: Sums): string[] {
  const names = new Set(store.listedBackends(key));
  const svc = state.services.ofKey(key);
  for (const b of svc.currentEndpoints()) names.add(svc.backendNames[b]!);
  for (const [b, n] of sums.backends) if (n > 0) names.add(b);
  for (const [b, n] of sums.bytes) if (n > 0) names.add(b);
  return [...names].sort(compareAddr);
}

export const count = (s: Sums, b: string) => s.backends.get(b) ?? 0;
export const selectionsOf = (s: Sums) => {
  let n = 0;
  for (const v of s.backends.values()) n += v;
  return n;
};

/** One Service's report from its summed counts `t`; with the live fields over `liveSeconds` unless null. */
function serviceReportOf(
  store: SummaryStore,
  state: AggregatorState,
  key: string,
  t: Sums,
  liveSeconds: number | null,
): ServiceReport {
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
    // Summaries count selections, not the picks per client that affinity makes independent.
    spreadVerdict:
      latest?.info.affinity.mode === 'ClientIP'
        ? notJudged('client', 'summaries keep no picks per client')
        : judgeSpread(
            names.map((b) => count(t, b)),
            'selection',
          ),
    stickiness: {
      pairs: c.pairs,
      sameBackend: c.sameBackend,
      ratio: c.pairs > 0 ? c.sameBackend / c.pairs : null,
      expectedRandom: names.length > 0 ? 1 / names.length : null,
    },
    affinityVerdicts: affinityVerdictsOf(c),
    nodeDivergence: { clients: 0, examples: [] },
    affinitySets: state.affinitySets.of(key),
    clients: [],
    clientsEstimate: Math.round(store.sketches.get(key)?.estimate() ?? 0),
  };
  if (liveSeconds !== null) addSummaryLiveFields(store, key, t, names, report, liveSeconds);
  if (key.endsWith('/udp'))
    report.udpContinuity = {
      replacements: c.udpReplacements,
      backendChanged: c.udpBackendChanged,
      reflectiveChanged: c.udpReflectiveChanged,
    };
  return report;
}

function affinityVerdictsOf(c: Sums['counts']): ServiceReport['affinityVerdicts'] {
  return {
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
  };
}

/** The report of a window (seconds) or of everything since serve began ('all'), from the summaries. */
export function summaryReport(
  store: SummaryStore,
  state: AggregatorState,
  window: number | 'all',
  rejected: RejectedEvents,
  recording: Span,
  nowMs = Date.now(),
): Report {
  const now = nowMs * 1000;
  const from = window === 'all' ? -Infinity : now - window * 1e6;
  const none = Number.isNaN(store.countedEnd) || store.countedEnd < from;
  const start = none ? 0 : Math.max(store.countedStart, from);
  const end = none ? 0 : store.countedEnd;
  const live = summaryLiveSource(store);
  const seconds = (end - start) / 1e6;
  const services = store
    .serviceKeys()
    .sort(compareAddr)
    .map((key) => {
      const sums = window === 'all' ? store.totalOf(key) : store.window(key, window, nowMs);
      return serviceReportOf(store, state, key, sums, live ? seconds : null);
    });
  return {
    window: {
      start: isoMicros(start),
      end: isoMicros(end),
      scope: window === 'all' ? 'cumulative' : 'window',
      seconds: window === 'all' ? null : window,
      truncated: false,
      missing: missingSpans(state, Number.isFinite(from) ? from : start, now),
      recording: { start: isoMicros(recording.start), end: isoMicros(recording.end) },
    },
    nodes: [...state.roster.names].sort(),
    lostEvents: state.roster.lostTotal,
    services,
    evictions: { ...state.evictions, openViolations: state.causes.droppedOpen },
    rejectedEvents: rejected.toJSON(),
    summaries: { nodes: store.nodes, received: store.received, dropped: { ...store.dropped } },
    ...(live ? { liveSource: live } : {}),
  };
}
