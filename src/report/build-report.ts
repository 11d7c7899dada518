// Builds the `report --format json` object from aggregator state, in a deterministic
// order (services, backends and clients by address) so equal events give equal reports.
import { topologyOf } from '../aggregator/topology.js';
import { refusalOf } from '../aggregator/refused.js';
import { isoMicros, type ServiceInfo } from '../core/event.js';
import { compareAddr } from '../aggregator/addresses.js';
import { cumulativeClients, windowClients, type ClientAgg } from '../aggregator/client-scan.js';
import { nodeDivergence, type Divergence } from '../aggregator/divergence.js';
import { shownBackends, type ServiceRec } from '../aggregator/services.js';
import type { AggregatorState } from '../aggregator/state.js';
import { cumulativeSpan, windowSpan, type Span } from '../aggregator/span.js';
import { serviceSpread } from '../aggregator/spread-verdict.js';
import { spreadOf } from '../aggregator/stats.js';
import type { Tally } from '../aggregator/tally.js';
import { RejectedEvents } from '../protocol/validate.js';
import { addLiveFields, liveSource } from './live-fields.js';
import type { ClientReport, MissingSpan, Report, Scope, ServiceReport } from './types.js';

const NO_AFFINITY: ServiceInfo['affinity'] = { mode: 'None', timeoutSeconds: null, source: 'inferred' };
/** Node-divergence examples listed per service (the count covers all). */
const DIVERGENCE_EXAMPLES = 20;

export interface BuildOptions {
  scope: Scope;
  rejected?: RejectedEvents;
  /** When the recording (trace files, an agent subscription, serve) began and ended, where there is one. */
  recording?: Span | null;
}

export function buildReport(state: AggregatorState, opts: BuildOptions): Report {
  const windowed = opts.scope === 'window';
  const span = windowed ? windowSpan(state) : cumulativeSpan(state);
  const end = span?.end ?? 0;
  // Figures of the window count what lies after its start, whether or not an event does.
  const start = windowed && !Number.isNaN(state.lastTs) ? state.windowStart() : (span?.start ?? 0);
  const clients = windowed ? windowClients(state) : cumulativeClients(state);
  const divergence = nodeDivergence(state, opts.scope, DIVERGENCE_EXAMPLES);
  const live = liveSource(state);
  // Bytes per second over the span the report states (window.start to window.end).
  const liveOpts = live && { inWindow: windowed, seconds: span ? (span.end - span.start) / 1e6 : 0 };
  const services = [...state.services.list]
    .sort((a, b) => compareAddr(a.key, b.key))
    .map((svc) =>
      serviceReport(
        state,
        svc,
        windowed ? svc.win : svc.cum,
        clients.get(svc.id) ?? new Map(),
        windowed ? start : -Infinity,
        divergence.get(svc.id),
        liveOpts,
      ),
    );
  let lost = state.roster.lostTotal;
  if (windowed) lost = state.roster.lostRecent.reduce((n, l) => (l.ts >= start ? n + l.count : n), 0);
  return {
    window: {
      start: isoMicros(span?.start ?? 0),
      end: isoMicros(end),
      scope: opts.scope,
      seconds: windowed ? state.windowUs / 1e6 : null,
      truncated: windowed && state.truncatedAt >= state.lastTs - state.windowUs,
      // Gaps up to the latest event of any kind: a node down after the last selection explains why none came.
      missing: missingSpans(
        state,
        span && !windowed ? span.start : start,
        Number.isNaN(state.lastTs) ? 0 : state.lastTs,
      ),
      recording: opts.recording ? { start: isoMicros(opts.recording.start), end: isoMicros(opts.recording.end) } : null,
    },
    nodes: [...state.roster.names].sort(),
    lostEvents: lost,
    services,
    evictions: { ...state.evictions, openViolations: state.causes.droppedOpen },
    rejectedEvents: (opts.rejected ?? new RejectedEvents()).toJSON(),
    ...(live ? { liveSource: live } : {}),
  };
}

export function missingSpans(state: AggregatorState, start: number, end: number): MissingSpan[] {
  const spans: MissingSpan[] = [];
  for (const g of state.roster.gaps) {
    if (g.end >= start && g.start <= end) {
      spans.push({
        node: state.roster.names[g.node]!,
        start: isoMicros(g.start),
        end: isoMicros(g.end),
        ongoing: false,
      });
    }
  }
  state.roster.downSince.forEach((since, n) => {
    if (!Number.isNaN(since))
      spans.push({ node: state.roster.names[n]!, start: isoMicros(since), end: isoMicros(end), ongoing: true });
  });
  return spans.sort((a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0,
  );
}

function serviceReport(
  state: AggregatorState,
  svc: ServiceRec,
  t: Tally,
  clients: Map<number, ClientAgg>,
  since: number,
  divergence: Divergence | undefined,
  live: { inWindow: boolean; seconds: number } | undefined,
): ServiceReport {
  const names = svc.backendNames;
  const pods = svc.latest?.info.pods;
  const shown = shownBackends(svc, t);
  const k = shown.length;
  const clientsPer = new Map<number, number>();
  for (const a of clients.values()) for (const b of a.backends.keys()) clientsPer.set(b, (clientsPer.get(b) ?? 0) + 1);
  const violation = t.listFull + t.setFull + t.crossFrontend + t.unknown;
  const report: ServiceReport = {
    service: svc.key,
    name: svc.latest?.info.name ?? null,
    affinity: svc.latest ? { ...svc.latest.info.affinity } : { ...NO_AFFINITY },
    ...refusalField(svc, state.roster.names),
    ...topologyField(state, svc, windowed(svc, t)),
    selections: t.selections,
    ...familyFields(svc, t, windowed(svc, t)),
    ...frontendFields(svc, windowed(svc, t)),
    backends: shown.map((b) => {
      const other = svc.otherAddresses.get(b);
      const pod = pods?.[names[b]!];
      return {
        backend: names[b]!,
        ...(other ? { addresses: [names[b]!, ...other] } : {}),
        ...(pod !== undefined ? { pod } : {}),
        selections: t.countOf(b),
        share: t.selections > 0 ? t.countOf(b) / t.selections : 0,
        clients: clientsPer.get(b) ?? 0,
      };
    }),
    spread: spreadOf(shown.map((b) => t.countOf(b))),
    spreadVerdict: serviceSpread(svc, t, shown),
    stickiness: {
      pairs: t.pairs,
      sameBackend: t.same,
      ratio: t.pairs > 0 ? t.same / t.pairs : null,
      expectedRandom: k > 0 ? 1 / k : null,
    },
    affinityVerdicts: {
      held: t.held,
      violation,
      forcedRepick: t.forcedRepick,
      expired: t.expired,
      compliance: t.held + violation > 0 ? t.held / (t.held + violation) : null,
      violationCauses: { listFull: t.listFull, setFull: t.setFull, crossFrontend: t.crossFrontend, unknown: t.unknown },
      pending: t.pending,
      expiredMoved: t.expiredMoved,
    },
    nodeDivergence: divergence ?? { clients: 0, examples: [] },
    affinitySets: svc.addresses.flatMap((a) => state.affinitySets.of(a)),
    clients: clientRows(state, svc, clients),
  };
  if (svc.key.endsWith('/udp')) report.udpContinuity = udpCounts(state, svc, since);
  if (live) addLiveFields(state, svc, t, shown, report, live);
  return report;
}

const windowed = (svc: ServiceRec, t: Tally) => t === svc.win;

function topologyField(state: AggregatorState, svc: ServiceRec, inWindow: boolean): Pick<ServiceReport, 'topology'> {
  const topology = topologyOf(svc, state.roster.names, state.clusterNodes, inWindow);
  return topology ? { topology } : {};
}

function refusalField(svc: ServiceRec, names: readonly string[]): Pick<ServiceReport, 'noEndpoints'> {
  const r = refusalOf(svc, names);
  return r ? { noEndpoints: r } : {};
}

/** A Service with an IPv6 address: all its addresses and its selections by family (report, Markdown, HTML). */
function familyFields(svc: ServiceRec, t: Tally, inWindow: boolean): Pick<ServiceReport, 'addresses' | 'families'> {
  const ipv6 = inWindow ? svc.ipv6Win : svc.ipv6Cum;
  if (ipv6 === 0 && !svc.addresses.some((a) => a.startsWith('['))) return {};
  return {
    addresses: [...svc.addresses].sort(compareAddr),
    families: { ipv4: t.selections - ipv6, ipv6 },
  };
}

/** A Service port reached at several addresses: its selections through each, in address order. */
function frontendFields(svc: ServiceRec, inWindow: boolean): Pick<ServiceReport, 'frontends'> {
  if (svc.addresses.length < 2) return {};
  const counts = inWindow ? svc.frontendWin : svc.frontendCum;
  const frontends = svc.addresses.map((address, f) => ({ address, selections: counts[f] ?? 0 }));
  return { frontends: frontends.sort((a, b) => compareAddr(a.address, b.address)) };
}

function sortedClientKeys(state: AggregatorState, clients: Map<number, ClientAgg>): number[] {
  const TWO32 = 4294967296;
  return [...clients.keys()].sort((a, b) =>
    a < TWO32 && b < TWO32 ? a - b : compareAddr(state.clients.name(a), state.clients.name(b)),
  );
}

/**
 * Each backend's place in address order, equal for addresses that compare equal, so a
 * stable sort by rank orders exactly as a sort by compareAddr, without parsing per compare.
 */
function addressRanks(names: readonly string[]): Int32Array {
  const order = names.map((_, b) => b).sort((x, y) => compareAddr(names[x]!, names[y]!));
  const rank = new Int32Array(names.length);
  for (let i = 1; i < order.length; i++) {
    const same = compareAddr(names[order[i - 1]!]!, names[order[i]!]!) === 0;
    rank[order[i]!] = same ? rank[order[i - 1]!]! : i;
  }
  return rank;
}

function clientRows(state: AggregatorState, svc: ServiceRec, clients: Map<number, ClientAgg>): ClientReport[] {
  const rank = addressRanks(svc.backendNames);
  return sortedClientKeys(state, clients).map((key) => {
    const a = clients.get(key)!;
    const backends: Record<string, number> = {};
    const order = [...a.backends.keys()].sort((x, y) => rank[x]! - rank[y]!);
    for (const b of order) backends[svc.backendNames[b]!] = a.backends.get(b)!;
    return {
      client: state.clients.name(key),
      selections: a.selections,
      backends,
      stickiness: a.pairs > 0 ? a.same / a.pairs : null,
      violations: a.violations,
      nodes: [...a.lastByNode.keys()].map((n) => state.roster.names[n]!).sort(),
    };
  });
}

function udpCounts(
  state: AggregatorState,
  svc: ServiceRec,
  since: number,
): NonNullable<ServiceReport['udpContinuity']> {
  if (since === -Infinity) {
    let reflectiveChanged = svc.udp.reflectiveChanged;
    for (const t of state.udp.unsettled())
      if (t.svc === svc.id && t.prevReflective !== t.flow.reflective) reflectiveChanged++;
    return { replacements: svc.udp.replacements, backendChanged: svc.udp.backendChanged, reflectiveChanged };
  }
  const out = { replacements: 0, backendChanged: 0, reflectiveChanged: 0 };
  for (const t of state.udp.since(since)) {
    if (t.svc !== svc.id) continue;
    out.replacements++;
    if (t.backendChanged) out.backendChanged++;
    if (t.reflectiveChanged) out.reflectiveChanged++;
  }
  return out;
}
