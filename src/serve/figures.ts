// Per-Service figures for /metrics, read at scrape time: from the reducer's state (counters
// from the cumulative tallies, monotonic since serve started; gauges from the window's), or
// with --summaries from the summary store (src/summary/consumer.ts).
import { nodeDivergence } from '../aggregator/divergence.js';
import type { AggregatorState } from '../aggregator/state.js';
import { bytesCounted } from '../aggregator/live-queries.js';
import { spreadOf } from '../aggregator/stats.js';
import { shownBackends, type ServiceRec } from '../aggregator/services.js';
import { topologyOf } from '../aggregator/topology.js';
import type { SummaryStore } from '../summary/consumer.js';
import { count, selectionsOf, shown } from '../summary/report.js';

export interface ServiceFigures {
  /** "namespace/name:port" where known, else the address key. */
  service: string;
  /** The key every metric is kept under: "10.96.0.10:80/tcp". */
  address: string;
  selectionsTotal: number;
  windowSelections: number;
  maxOverMean: number | null;
  jain: number | null;
  chi2P: number | null;
  stickiness: number | null;
  randomStickiness: number | null;
  verdictsTotal: { held: number; violation: number; forcedRepick: number; expired: number };
  /** Violations whose cause is settled; those still open are `violationsPending`. */
  violationCausesTotal: { listFull: number; setFull: number; crossFrontend: number; unknown: number };
  violationsPending: number;
  /** Null from summaries (it needs each client's backend per node). */
  divergentClients: number | null;
  /** Distinct client IPs, estimated from the agents' sketches (summaries only). */
  clientsEstimate: number | null;
  udpTotal: { replacements: number; backendChanged: number; reflectiveChanged: number } | null;
  /** Services with an IPv6 address only (a dual-stack one is one Service): selections since start by family. */
  familyTotal: { ipv4: number; ipv6: number } | null;
  /**
   * With the API's catalog (topology.ts): by node, its selections since start that stayed in its zone and those that
   * crossed zones, and whether it falls back (uses every endpoint though hints ask otherwise, or drops under Local).
   */
  topology: { node: string; sameZone: number; crossZone: number; fallback: boolean }[] | null;
  backends: BackendFigures[];
}

interface BackendFigures {
  backend: string;
  selectionsTotal: number;
  share: number | null;
  /** Connections open now; null where no node reads its conntrack table. */
  liveConnections: number | null;
  /** Bytes both ways the live connections carried since serve started; null where no node counts them. */
  bytesTotal: number | null;
}

export interface ServiceSnapshot {
  services: ServiceFigures[];
  /** Services known but left out by the cap. */
  omitted: number;
}

/** The `max` Services with the most selections since start (ties by address), the rest counted. */
export function serviceSnapshot(state: AggregatorState, max: number): ServiceSnapshot {
  const all = state.services.list;
  const top = [...all]
    .sort((a, b) => b.cum.selections - a.cum.selections || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, max);
  const open = state.causes.openByService();
  const divergence = nodeDivergence(state, 'window', 0);
  const live = state.live.sourced.some(Boolean);
  const bytes = live && bytesCounted(state) !== false;
  const services = top.map((svc): ServiceFigures => {
    const cum = svc.cum;
    const win = svc.win;
    const shown = shownBackends(svc, win);
    const spread = spreadOf(shown.map((b) => win.countOf(b)));
    const pending = open.get(svc.id) ?? 0;
    const everShown = new Set([...shownBackends(svc, cum), ...shown]);
    // A backend whose bytes were counted stays: its counter goes on.
    if (bytes) for (let b = 0; b < svc.backendNames.length; b++) if (svc.load.bytesOf(b, false) > 0) everShown.add(b);
    return {
      service: svc.latest?.info.name ?? svc.key,
      address: svc.key,
      selectionsTotal: cum.selections,
      windowSelections: win.selections,
      maxOverMean: spread.maxOverMean,
      jain: spread.jain,
      chi2P: spread.chi2P,
      stickiness: win.pairs > 0 ? win.same / win.pairs : null,
      randomStickiness: shown.length > 0 ? 1 / shown.length : null,
      verdictsTotal: {
        held: cum.held,
        violation: cum.listFull + cum.setFull + cum.crossFrontend + cum.unknown,
        forcedRepick: cum.forcedRepick,
        expired: cum.expired,
      },
      violationCausesTotal: {
        listFull: cum.listFull,
        setFull: cum.setFull,
        crossFrontend: cum.crossFrontend,
        unknown: cum.unknown - pending,
      },
      violationsPending: pending,
      divergentClients: divergence.get(svc.id)?.clients ?? 0,
      clientsEstimate: null,
      udpTotal: svc.key.endsWith('/udp') ? { ...svc.udp } : null,
      familyTotal:
        svc.ipv6Cum > 0 || svc.addresses.some((a) => a.startsWith('['))
          ? { ipv4: cum.selections - svc.ipv6Cum, ipv6: svc.ipv6Cum }
          : null,
      topology: topologyFigures(state, svc),
      backends: [...everShown].map((b) => ({
        backend: svc.backendNames[b]!,
        selectionsTotal: cum.countOf(b),
        share: win.selections > 0 ? win.countOf(b) / win.selections : null,
        liveConnections: live ? svc.load.openOf(b) : null,
        bytesTotal: bytes ? svc.load.bytesOf(b, false) : null,
      })),
    };
  });
  return { services, omitted: all.length - services.length };
}

function topologyFigures(state: AggregatorState, svc: ServiceRec): ServiceFigures['topology'] {
  const t = topologyOf(svc, state.roster.names, state.clusterNodes, false, false);
  if (!t) return null;
  return t.nodes.map((n) => ({
    node: n.node,
    sameZone: n.sameZone,
    crossZone: n.crossZone,
    fallback: n.fallback !== undefined,
  }));
}

/** /metrics figures of the `max` Services with the most selections since serve began. */
export function summaryFigures(
  store: SummaryStore,
  state: AggregatorState,
  windowSeconds: number,
  max: number,
  nowMs = Date.now(),
): ServiceSnapshot {
  const all = store.serviceKeys().map((key) => {
    const sums = store.totalOf(key);
    return { key, sums, n: selectionsOf(sums) };
  });
  const top = all.sort((a, b) => b.n - a.n || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).slice(0, max);
  const bytes = [...store.liveNodes.values()].some((l) => l.bytes !== false);
  const services = top.map(({ key, sums, n }): ServiceFigures => {
    const open = store.liveOf(key);
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
      // Summaries count per backend over the nodes: where each pick was made is not in them.
      topology: null,
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
        liveConnections: open ? (open.get(backend) ?? 0) : null,
        bytesTotal: open && bytes ? (sums.bytes.get(backend) ?? 0) : null,
      })),
    };
  });
  return { services, omitted: all.length - services.length };
}
