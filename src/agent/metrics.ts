// The agent's own /metrics (agent --metrics), two tables of series (src/metrics/series.ts):
// the agent's — the probe's records by type and its losses, attach points, subscribers,
// the node's conntrack counters, and how full every affinity (xt_recent) list is, which
// warns before clients start being evicted (listFull) — and the node's, its reducer's
// counts per Service and backend, counters only, so that Prometheus sums them over nodes
// into the cluster's figures (docs/design.md, "Cluster-wide figures from the agents").
// Never per client.
import type { Server } from 'node:http';
import type { CountersEvent, EventSource, StickyEvent } from '../core/event.js';
import type { NodeSummary, ServiceCounts } from '../core/summary.js';
import { MetricRegistry, type Labels, type Series } from '../metrics/series.js';
import type { AgentInfo } from '../protocol/wire.js';
import type { Summarizer } from '../summary/producer.js';
import type { AgentServer } from './server.js';
import type { EvictionWatcher } from './xt-recent.js';

export interface AgentMetricsOptions {
  node: string;
  /** The probe: its records are counted as they pass, nothing else is done per event. */
  probe: EventSource;
  server: AgentServer;
  recent?: EvictionWatcher;
  attachPoints: readonly string[];
  /** The node's reducer: with it, the summable per-Service and per-backend series. */
  summarizer?: Summarizer;
  /** Services in those series at most (default 500). */
  maxServices?: number;
}

export interface AgentMetrics {
  registry: MetricRegistry['registry'];
  http: Server;
  /** Stops counting (the HTTP server is closed by its owner). */
  detach(): void;
}

/** What the agent's series read, once per scrape. */
interface AgentReading {
  byType: ReadonlyMap<string, number>;
  lost: number;
  counters: CountersEvent | null;
  attachPoints: readonly string[];
  info: AgentInfo;
  recent: ReturnType<EvictionWatcher['fill']> | undefined;
}

const conntrack = (name: string, help: string, pick: (c: CountersEvent) => number): Series<AgentReading> => ({
  kind: 'counter',
  name,
  help,
  fill: (set, r) => set({}, r.counters ? pick(r.counters) : null),
});
const LIST = ['list', 'endpoint'];

const AGENT_SERIES: Series<AgentReading>[] = [
  {
    kind: 'counter',
    name: 'stickyscope_agent_records_total',
    help: 'Records the probe handed over, by type (dnat, snat, lost, counters, ...).',
    labels: ['type'],
    fill: (set, r) => {
      for (const [type, n] of r.byType) set({ type }, n);
    },
  },
  {
    kind: 'counter',
    name: 'stickyscope_agent_ring_buffer_lost_records_total',
    help: 'Records the BPF ring buffer could not take (the probe fell behind).',
    fill: (set, r) => set({}, r.lost),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_agent_attach_point_info',
    help: 'A netfilter hook the probe is attached at (hook/priority).',
    labels: ['point'],
    fill: (set, r) => {
      // The link id changes with every attach: left out, so a restart does not make new series.
      for (const point of r.attachPoints) set({ point: point.replace(/ link \d+$/, '') }, 1);
    },
  },
  {
    kind: 'gauge',
    name: 'stickyscope_agent_subscribers',
    help: 'Subscribers being served now.',
    fill: (set, r) => set({}, r.info.subscribers),
  },
  {
    kind: 'counter',
    name: 'stickyscope_agent_subscriber_lost_events_total',
    help: 'Events subscribers missed by reading too slowly (all subscribers, gone ones included).',
    fill: (set, r) => set({}, r.info.subscriberLost),
  },
  {
    kind: 'counter',
    name: 'stickyscope_agent_limit_hits_total',
    help: "Clients refused or cut by the agent's limits, by kind (rejectedSubscribers, invalidFilters, oversizedMessages, stalledSubscribers, pingFloods).",
    labels: ['kind'],
    fill: (set, r) => {
      for (const [kind, n] of Object.entries(r.info.limits)) set({ kind }, n);
    },
  },
  conntrack(
    'stickyscope_conntrack_insert_failed_total',
    "The kernel's conntrack insert_failed count (summed over CPUs).",
    (c) => c.insertFailed,
  ),
  conntrack('stickyscope_conntrack_drop_total', "The kernel's conntrack drop count (summed over CPUs).", (c) => c.drop),
  conntrack(
    'stickyscope_conntrack_early_drop_total',
    "The kernel's conntrack early_drop count (summed over CPUs).",
    (c) => c.earlyDrop,
  ),
  {
    kind: 'gauge',
    name: 'stickyscope_conntrack_entries',
    help: 'Conntrack entries in the node now.',
    fill: (set, r) => set({}, r.counters?.entries),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_affinity_list_entries',
    help: 'Clients in the xt_recent list of a ClientIP affinity endpoint.',
    labels: LIST,
    fill: (set, r) => {
      for (const l of r.recent?.lists ?? []) set({ list: l.list, endpoint: l.endpoint }, l.entries);
    },
  },
  {
    kind: 'gauge',
    name: 'stickyscope_affinity_list_capacity',
    help: 'Entries an xt_recent list holds at most (ip_list_tot); a full list evicts clients early.',
    fill: (set, r) => set({}, r.recent?.capacity || null),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_affinity_list_fill_ratio',
    help: 'Entries over ip_list_tot for each affinity list: at 1, clients are evicted before their timeout (listFull violations).',
    labels: LIST,
    fill: (set, r) => {
      const cap = r.recent?.capacity;
      if (!cap) return;
      for (const l of r.recent!.lists) set({ list: l.list, endpoint: l.endpoint }, l.entries / cap);
    },
  },
];

interface NodeRow {
  labels: Labels;
  counts: ServiceCounts;
  clients: number;
}
/** What the node's series read, once per scrape: the `maxServices` Services with the most selections. */
interface NodeReading {
  rows: NodeRow[];
  omitted: number;
  /** Present once the node's helper reads its conntrack table (live connections). */
  live: NodeSummary['live'];
}

const SVC = ['service', 'address'];
const perRow =
  (pick: (r: NodeRow, set: (extra: Labels, v: number) => void) => void): Series<NodeReading>['fill'] =>
  (set, { rows }) => {
    for (const r of rows) pick(r, (extra, v) => set({ ...r.labels, ...extra }, v));
  };

const NODE_SERIES: Series<NodeReading>[] = [
  {
    kind: 'counter',
    name: 'stickyscope_node_backend_selections_total',
    help: "Selections of the backend on this node (every endpoint the node's rules list, zeros included). Summed over nodes: the cluster's per-backend counts, whose max over mean is the spread.",
    labels: [...SVC, 'backend'],
    fill: perRow((r, set) => {
      for (const b of r.counts.backends) set({ backend: b.backend }, b.selections);
    }),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_backend_live_connections',
    help: "Connections open to the backend through this node now, from its conntrack table (TCP in TIME_WAIT or CLOSE is not open). Summed over nodes: the cluster's open connections per backend.",
    labels: [...SVC, 'backend'],
    fill: (set, r) => {
      if (!r.live) return;
      perRow((row, put) => {
        for (const b of row.counts.backends) put({ backend: b.backend }, b.live ?? 0);
      })(set, r);
    },
  },
  {
    kind: 'counter',
    name: 'stickyscope_backend_bytes_total',
    help: "Bytes both ways this node's live connections to the backend carried since the agent followed them (conntrack counters; with nf_conntrack_acct on). Summed over nodes: the cluster's.",
    labels: [...SVC, 'backend'],
    fill: (set, r) => {
      if (!r.live || r.live.bytes === false) return;
      perRow((row, put) => {
        for (const b of row.counts.backends) put({ backend: b.backend }, b.bytes ?? 0);
      })(set, r);
    },
  },
  {
    kind: 'counter',
    name: 'stickyscope_node_consecutive_selections_total',
    help: "A client's consecutive selections on this node (pairs). sum(..._kept_backend_total) / sum(this) over nodes is the stickiness.",
    labels: SVC,
    fill: perRow((r, set) => set({}, r.counts.pairs)),
  },
  {
    kind: 'counter',
    name: 'stickyscope_node_consecutive_selections_kept_backend_total',
    help: "A client's consecutive selections on this node that picked the same backend as the previous one.",
    labels: SVC,
    fill: perRow((r, set) => set({}, r.counts.sameBackend)),
  },
  {
    kind: 'counter',
    name: 'stickyscope_node_affinity_verdicts_total',
    help: 'Consecutive selections judged against sessionAffinity on this node, by verdict (held, violation, forcedRepick, expired).',
    labels: [...SVC, 'verdict'],
    fill: perRow(({ counts: c }, set) => {
      set({ verdict: 'held' }, c.held);
      set({ verdict: 'violation' }, c.violations);
      set({ verdict: 'forcedRepick' }, c.forcedRepick);
      set({ verdict: 'expired' }, c.expired);
    }),
  },
  {
    kind: 'counter',
    name: 'stickyscope_node_affinity_violations_total',
    help: 'Affinity violations on this node whose cause is settled, by cause (listFull, setFull, crossFrontend, unknown).',
    labels: [...SVC, 'cause'],
    fill: perRow((r, set) => {
      for (const cause of ['listFull', 'setFull', 'crossFrontend', 'unknown'] as const) set({ cause }, r.counts[cause]);
    }),
  },
  {
    kind: 'counter',
    name: 'stickyscope_node_udp_continuity_changes_total',
    help: 'UDP conntrack entries replaced on the same flow on this node (replacements), and of them those that moved backend or reflective address.',
    labels: [...SVC, 'change'],
    fill: perRow(({ labels, counts: c }, set) => {
      if (!labels.address!.endsWith('/udp')) return;
      set({ change: 'replacements' }, c.udpReplacements);
      set({ change: 'backendChanged' }, c.udpBackendChanged);
      set({ change: 'reflectiveChanged' }, c.udpReflectiveChanged);
    }),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_node_service_clients_estimate',
    help: "Distinct client IPs of the Service on this node since the agent started (HyperLogLog, ~3% error). Not summable: clients seen by several nodes would count twice; serve's stickyscope_service_clients_estimate merges the nodes' sketches.",
    labels: SVC,
    fill: perRow((r, set) => set({}, r.clients)),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_node_metrics_services_omitted',
    help: 'Services left out of the per-Service series by agent --metrics-max-services (those with the fewest selections).',
    fill: (set, r) => set({}, r.omitted),
  },
];

/** The node's Services with the most selections (ties by key), at most `max` of them. */
function nodeReading(summarizer: Summarizer, max: number): NodeReading {
  const all = summarizer.totals();
  const recs = summarizer.state.services.list;
  const order = all
    .map((c, i) => ({ c, i, n: recs[i]!.cum.selections }))
    .sort((a, b) => b.n - a.n || (a.c.service < b.c.service ? -1 : a.c.service > b.c.service ? 1 : 0))
    .slice(0, max);
  const rows = order.map(({ c, i }) => ({
    labels: { service: recs[i]!.latest?.info.name ?? c.service, address: c.service },
    counts: c,
    clients: summarizer.clientsEstimate(recs[i]!),
  }));
  return { rows, omitted: all.length - order.length, live: summarizer.live() };
}

export function createAgentMetrics(opts: AgentMetricsOptions): AgentMetrics {
  const byType = new Map<string, number>();
  let lost = 0;
  let counters: CountersEvent | null = null;
  const onEvents = (events: StickyEvent[]) => {
    for (const e of events) {
      byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
      if (e.type === 'lost') lost += e.count;
      else if (e.type === 'counters') counters = e;
    }
  };
  opts.probe.on('events', onEvents);

  const metrics = new MetricRegistry({ node: opts.node });
  metrics.add(AGENT_SERIES, () => ({
    byType,
    lost,
    counters,
    attachPoints: opts.attachPoints,
    info: opts.server.info(),
    recent: opts.recent?.fill(),
  }));
  const summarizer = opts.summarizer;
  if (summarizer) metrics.add(NODE_SERIES, () => nodeReading(summarizer, opts.maxServices ?? 500));
  return { registry: metrics.registry, http: metrics.httpServer(), detach: () => opts.probe.off('events', onEvents) };
}
