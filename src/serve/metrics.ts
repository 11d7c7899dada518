// `serve`'s /metrics: one table of series (src/metrics/series.ts) filled at scrape time from
// the reducer's state or the summaries (figures.ts), with labels bounded per Service (at
// most `maxServices` of them) and per agent, never per client.
import { MetricRegistry, type Series, type SetValue } from '../metrics/series.js';
import type { AgentBook, AgentEntry } from './agent-book.js';
import { serviceSnapshot, summaryFigures, type ServiceFigures, type ServiceSnapshot } from './figures.js';
import type { ServeHub } from './hub.js';

export interface ServeMetrics {
  registry: MetricRegistry['registry'];
  /** The text exposition of one scrape. */
  scrape(): Promise<string>;
}

/** What the series read, once per scrape. */
interface ServeReading {
  hub: ServeHub;
  figures: ServiceSnapshot;
  agents: AgentEntry[];
}
type Fill = Series<ServeReading>['fill'];

const SVC = ['service', 'address'];
const BACKEND = [...SVC, 'backend'];
const AGENT = ['agent', 'node'];

/** One sample per Service, or per Service and each key of the record `pick` gives, labelled `key`. */
function perService(pick: (s: ServiceFigures) => number | null): Fill;
function perService(pick: (s: ServiceFigures) => Record<string, number> | null, key: string): Fill;
function perService(pick: (s: ServiceFigures) => number | null | Record<string, number>, key?: string): Fill {
  return (set, { figures }) => {
    for (const s of figures.services) {
      const labels = { service: s.service, address: s.address };
      const v = pick(s);
      if (key === undefined || v === null || typeof v === 'number') set(labels, v as number | null);
      else for (const [k, n] of Object.entries(v)) set({ ...labels, [key]: k }, n);
    }
  };
}
const perBackend =
  (pick: (b: ServiceFigures['backends'][number]) => number | null): Fill =>
  (set, { figures }) => {
    for (const s of figures.services)
      for (const b of s.backends) set({ service: s.service, address: s.address, backend: b.backend }, pick(b));
  };
const perNode =
  (pick: (n: NonNullable<ServiceFigures['topology']>[number]) => number): Fill =>
  (set, { figures }) => {
    for (const s of figures.services)
      for (const n of s.topology ?? []) set({ service: s.service, address: s.address, node: n.node }, pick(n));
  };
const perAgent =
  (pick: (a: AgentEntry, hub: ServeHub) => number | undefined): Fill =>
  (set, { agents, hub }) => {
    for (const a of agents) set({ agent: a.address, node: a.node }, pick(a, hub));
  };
const byKind = (label: string, counts: object | undefined, set: SetValue) => {
  for (const [k, n] of Object.entries(counts ?? {}) as [string, number][]) set({ [label]: k }, n);
};

const SERVE_SERIES: Series<ServeReading>[] = [
  {
    kind: 'counter',
    name: 'stickyscope_service_selections_total',
    help: 'Backend selections (new connections translated to a backend) since serve started.',
    labels: SVC,
    fill: perService((s) => s.selectionsTotal),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_window_selections',
    help: 'Backend selections in the window (stickyscope_window_seconds).',
    labels: SVC,
    fill: perService((s) => s.windowSelections),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_spread_max_over_mean',
    help: "Largest backend's selections over the mean per backend, in the window (1 is even).",
    labels: SVC,
    fill: perService((s) => s.maxOverMean),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_spread_jain_index',
    help: "Jain's fairness index of selections per backend in the window (1 is even, 1/K all on one).",
    labels: SVC,
    fill: perService((s) => s.jain),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_spread_chi2_p_value',
    help: 'Chi-square p-value of selections per backend against a uniform choice, in the window.',
    labels: SVC,
    fill: perService((s) => s.chi2P),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_stickiness_ratio',
    help: "Share of a client's consecutive selections that picked the same backend, in the window.",
    labels: SVC,
    fill: perService((s) => s.stickiness),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_stickiness_random_ratio',
    help: 'The stickiness a uniformly random choice would give: 1/K for K backends.',
    labels: SVC,
    fill: perService((s) => s.randomStickiness),
  },
  {
    kind: 'counter',
    name: 'stickyscope_service_affinity_verdicts_total',
    help: 'Consecutive selections of a client judged against sessionAffinity, by verdict (held, violation, forcedRepick, expired).',
    labels: [...SVC, 'verdict'],
    fill: perService((s) => s.verdictsTotal, 'verdict'),
  },
  {
    kind: 'counter',
    name: 'stickyscope_service_affinity_violations_total',
    help: 'Affinity violations whose cause is settled, by cause (listFull: evicted from a full xt_recent list; setFull: never added to a full nftables affinity set; crossFrontend: pinned elsewhere through another frontend of the Service port; unknown).',
    labels: [...SVC, 'cause'],
    fill: perService((s) => s.violationCausesTotal, 'cause'),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_affinity_violations_pending',
    help: 'Affinity violations whose cause is still open (a late xt_recent eviction may yet explain them).',
    labels: SVC,
    fill: perService((s) => s.violationsPending),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_node_divergent_clients',
    help: 'Clients whose latest backend differs between the nodes they came through, in the window.',
    labels: SVC,
    fill: perService((s) => s.divergentClients),
  },
  {
    kind: 'counter',
    name: 'stickyscope_service_udp_continuity_changes_total',
    help: 'UDP conntrack entries replaced on the same flow (replacements), and of them those that moved backend or reflective address.',
    labels: [...SVC, 'change'],
    fill: perService((s) => s.udpTotal, 'change'),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_clients_estimate',
    help: 'Distinct client IPs of the Service since the agents started, merged from their HyperLogLog sketches (~3% error; serve --summaries only).',
    labels: SVC,
    fill: perService((s) => s.clientsEstimate),
  },
  {
    kind: 'counter',
    name: 'stickyscope_service_family_selections_total',
    help: 'Selections since serve started by the family they came in (ipv4, ipv6); Services with an IPv6 address only.',
    labels: [...SVC, 'family'],
    fill: perService((s) => s.familyTotal, 'family'),
  },
  {
    kind: 'counter',
    name: 'stickyscope_backend_selections_total',
    help: 'Selections of the backend since serve started.',
    labels: BACKEND,
    fill: perBackend((b) => b.selectionsTotal),
  },
  {
    kind: 'counter',
    name: 'stickyscope_service_same_zone_selections_total',
    help: 'Selections the node made of a backend in its own zone (topology.kubernetes.io/zone), since serve started (with --k8s).',
    labels: [...SVC, 'node'],
    fill: perNode((n) => n.sameZone),
  },
  {
    kind: 'counter',
    name: 'stickyscope_service_cross_zone_selections_total',
    help: 'Selections the node made of a backend in another zone, since serve started (with --k8s).',
    labels: [...SVC, 'node'],
    fill: perNode((n) => n.crossZone),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_service_topology_fallback',
    help: "1 where the node uses every endpoint though the Service's hints ask it to narrow them, or drops its connections under internalTrafficPolicy Local; else 0 (with --k8s).",
    labels: [...SVC, 'node'],
    fill: perNode((n) => (n.fallback ? 1 : 0)),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_backend_live_connections',
    help: "Connections open to the backend now, from the nodes' conntrack tables (nodes whose helper reads them; in TIME_WAIT or CLOSE a TCP connection is not open).",
    labels: BACKEND,
    fill: perBackend((b) => b.liveConnections),
  },
  {
    kind: 'counter',
    name: 'stickyscope_backend_bytes_total',
    help: "Bytes both ways the backend's live connections carried since serve started (conntrack counters; nodes with nf_conntrack_acct on).",
    labels: BACKEND,
    fill: perBackend((b) => b.bytesTotal),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_backend_share_ratio',
    help: "The backend's share of the Service's selections in the window.",
    labels: BACKEND,
    fill: perBackend((b) => b.share),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_window_seconds',
    help: 'Length of the window the gauges cover.',
    fill: (set, { hub }) => set({}, hub.windows[0]),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_services',
    help: 'Services known to the aggregator.',
    fill: (set, { hub }) => set({}, hub.primary.services.list.length),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_metrics_services_omitted',
    help: 'Services left out of these metrics by --metrics-max-services (those with the fewest selections).',
    fill: (set, { figures }) => set({}, figures.omitted),
  },
  {
    kind: 'counter',
    name: 'stickyscope_events_total',
    help: 'Events received from the agents and aggregated.',
    fill: (set, { hub }) => set({}, hub.events),
  },
  {
    kind: 'counter',
    name: 'stickyscope_summaries_total',
    help: 'Summaries received from the agents (serve --summaries), raw-streaming agents summarised here included.',
    fill: (set, { hub }) => set({}, hub.summaries?.received),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_summary_nodes',
    help: 'Nodes whose summaries the figures sum (serve --summaries).',
    fill: (set, { hub }) => set({}, hub.summaries?.nodes),
  },
  {
    kind: 'counter',
    name: 'stickyscope_evictions_total',
    help: 'What the aggregator dropped to bound its memory, by kind (idle and capacity: client entries; services: selections of new Services past its Services limit).',
    labels: ['kind'],
    fill: (set, { hub }) => byKind('kind', hub.primary.evictions, set),
  },
  {
    kind: 'counter',
    name: 'stickyscope_summary_dropped_total',
    help: "What serve --summaries left out past its limits (an agent inventing keys): a new node's summaries, a node's new Services, a Service's new backends.",
    labels: ['kind'],
    fill: (set, { hub }) => byKind('kind', hub.summaries?.dropped, set),
  },
  {
    kind: 'counter',
    name: 'stickyscope_lost_events_total',
    help: 'Events the agents reported lost (ring buffer full or this subscriber too slow).',
    fill: (set, { hub }) => set({}, hub.primary.roster.lostTotal),
  },
  {
    kind: 'counter',
    name: 'stickyscope_rejected_events_total',
    help: 'Events dropped on arrival as implausible (bad times, addresses...), by reason.',
    labels: ['reason'],
    fill: (set, { hub }) => byKind('reason', hub.rejected.reasons, set),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_agent_up',
    help: 'Whether the agent is subscribed now (1) or not (0).',
    labels: AGENT,
    fill: perAgent((a) => (a.up ? 1 : 0)),
  },
  {
    kind: 'counter',
    name: 'stickyscope_agent_stream_lost_events_total',
    help: "Lost events announced in the agent's stream to serve.",
    labels: AGENT,
    fill: perAgent((a, hub) => hub.lostByNode.get(a.node) ?? 0),
  },
  {
    kind: 'counter',
    name: 'stickyscope_agent_ring_buffer_lost_events_total',
    help: "Records the agent's ring buffer could not take, as its Info says.",
    labels: AGENT,
    fill: perAgent((a) => a.info?.lostEvents),
  },
  {
    kind: 'counter',
    name: 'stickyscope_agent_subscriber_lost_events_total',
    help: "Events the agent's subscribers (all of them) missed by reading too slowly, as its Info says.",
    labels: AGENT,
    fill: perAgent((a) => a.info?.subscriberLost),
  },
  {
    kind: 'gauge',
    name: 'stickyscope_agent_subscribers',
    help: 'Subscribers the agent serves, as its Info says.',
    labels: AGENT,
    fill: perAgent((a) => a.info?.subscribers),
  },
];

export function createServeMetrics(hub: ServeHub, book: AgentBook, maxServices: number): ServeMetrics {
  const metrics = new MetricRegistry();
  metrics.add(SERVE_SERIES, () => ({
    hub,
    agents: book.list(),
    figures: hub.summaries
      ? summaryFigures(hub.summaries, hub.primary, hub.windows[0]!, maxServices)
      : serviceSnapshot(hub.primary, maxServices),
  }));
  return { registry: metrics.registry, scrape: () => metrics.scrape() };
}
