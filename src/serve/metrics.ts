// `serve`'s /metrics: a prom-client registry whose metrics are filled by collect() at
// scrape time from the reducer's state (nothing is counted per event), with labels
// bounded per Service (at most `maxServices` of them) and per agent, never per client.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AgentBook } from './agent-book.js';
import type { ServeHub } from './hub.js';
import { serviceSnapshot, type ServiceSnapshot } from './service-metrics.js';
import { summaryFigures } from './summary-figures.js';

export interface ServeMetrics {
  registry: Registry;
  /** The text exposition of one scrape. */
  scrape(): Promise<string>;
  /** Services left out of the last scrape by the cap. */
  omitted(): number;
}

type Labels = Record<string, string>;
type Fill<T> = (set: (labels: Labels, value: number | null | undefined) => void, s: T) => void;

export function createServeMetrics(hub: ServeHub, book: AgentBook, maxServices: number): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Every collect() of one scrape reads the same snapshot, taken when the scrape began.
  let snapshot: ServiceSnapshot = { services: [], omitted: 0 };
  let lastOmitted = 0;

  const gauge = <T>(name: string, help: string, labelNames: string[], from: () => T, fill: Fill<T>) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill((labels, v) => {
          if (v !== null && v !== undefined && Number.isFinite(v)) this.set(labels, v);
        }, from());
      },
    });
  const counter = <T>(name: string, help: string, labelNames: string[], from: () => T, fill: Fill<T>) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill((labels, v) => {
          if (v !== null && v !== undefined && Number.isFinite(v)) this.inc(labels, v);
        }, from());
      },
    });

  const SVC = ['service', 'address'];
  const services = () => snapshot.services;
  const perService =
    (pick: (s: ServiceSnapshot['services'][number]) => number | null): Fill<ServiceSnapshot['services']> =>
    (set, list) => {
      for (const s of list) set({ service: s.service, address: s.address }, pick(s));
    };

  counter(
    'stickyscope_service_selections_total',
    'Backend selections (new connections translated to a backend) since serve started.',
    SVC,
    services,
    perService((s) => s.selectionsTotal),
  );
  gauge(
    'stickyscope_service_window_selections',
    'Backend selections in the window (stickyscope_window_seconds).',
    SVC,
    services,
    perService((s) => s.windowSelections),
  );
  gauge(
    'stickyscope_service_spread_max_over_mean',
    "Largest backend's selections over the mean per backend, in the window (1 is even).",
    SVC,
    services,
    perService((s) => s.maxOverMean),
  );
  gauge(
    'stickyscope_service_spread_jain_index',
    "Jain's fairness index of selections per backend in the window (1 is even, 1/K all on one).",
    SVC,
    services,
    perService((s) => s.jain),
  );
  gauge(
    'stickyscope_service_spread_chi2_p_value',
    'Chi-square p-value of selections per backend against a uniform choice, in the window.',
    SVC,
    services,
    perService((s) => s.chi2P),
  );
  gauge(
    'stickyscope_service_stickiness_ratio',
    "Share of a client's consecutive selections that picked the same backend, in the window.",
    SVC,
    services,
    perService((s) => s.stickiness),
  );
  gauge(
    'stickyscope_service_stickiness_random_ratio',
    'The stickiness a uniformly random choice would give: 1/K for K backends.',
    SVC,
    services,
    perService((s) => s.randomStickiness),
  );
  counter(
    'stickyscope_service_affinity_verdicts_total',
    'Consecutive selections of a client judged against sessionAffinity, by verdict (held, violation, forcedRepick, expired).',
    [...SVC, 'verdict'],
    services,
    (set, list) => {
      for (const s of list)
        for (const [verdict, v] of Object.entries(s.verdictsTotal))
          set({ service: s.service, address: s.address, verdict }, v);
    },
  );
  counter(
    'stickyscope_service_affinity_violations_total',
    'Affinity violations whose cause is settled, by cause (listFull: evicted from a full xt_recent list; setFull: never added to a full nftables affinity set; crossFrontend: pinned elsewhere through another frontend of the Service port; unknown).',
    [...SVC, 'cause'],
    services,
    (set, list) => {
      for (const s of list)
        for (const [cause, v] of Object.entries(s.violationCausesTotal))
          set({ service: s.service, address: s.address, cause }, v);
    },
  );
  gauge(
    'stickyscope_service_affinity_violations_pending',
    'Affinity violations whose cause is still open (a late xt_recent eviction may yet explain them).',
    SVC,
    services,
    perService((s) => s.violationsPending),
  );
  gauge(
    'stickyscope_service_node_divergent_clients',
    'Clients whose latest backend differs between the nodes they came through, in the window.',
    SVC,
    services,
    perService((s) => s.divergentClients),
  );
  counter(
    'stickyscope_service_udp_continuity_changes_total',
    'UDP conntrack entries replaced on the same flow (replacements), and of them those that moved backend or reflective address.',
    [...SVC, 'change'],
    services,
    (set, list) => {
      for (const s of list)
        if (s.udpTotal)
          for (const [change, v] of Object.entries(s.udpTotal))
            set({ service: s.service, address: s.address, change }, v);
    },
  );
  gauge(
    'stickyscope_service_clients_estimate',
    'Distinct client IPs of the Service since the agents started, merged from their HyperLogLog sketches (~3% error; serve --summaries only).',
    SVC,
    services,
    perService((s) => s.clientsEstimate),
  );
  counter(
    'stickyscope_service_family_selections_total',
    'Selections since serve started by the family they came in (ipv4, ipv6); Services with an IPv6 address only.',
    [...SVC, 'family'],
    services,
    (set, list) => {
      for (const s of list)
        if (s.familyTotal)
          for (const [family, v] of Object.entries(s.familyTotal))
            set({ service: s.service, address: s.address, family }, v);
    },
  );
  const BACKEND = [...SVC, 'backend'];
  counter(
    'stickyscope_backend_selections_total',
    'Selections of the backend since serve started.',
    BACKEND,
    services,
    (set, list) => {
      for (const s of list)
        for (const b of s.backends)
          set({ service: s.service, address: s.address, backend: b.backend }, b.selectionsTotal);
    },
  );
  gauge(
    'stickyscope_backend_share_ratio',
    "The backend's share of the Service's selections in the window.",
    BACKEND,
    services,
    (set, list) => {
      for (const s of list)
        for (const b of s.backends) set({ service: s.service, address: s.address, backend: b.backend }, b.share);
    },
  );

  const none = () => null;
  gauge('stickyscope_window_seconds', 'Length of the window the gauges cover.', [], none, (set) =>
    set({}, hub.windows[0]),
  );
  gauge('stickyscope_services', 'Services known to the aggregator.', [], none, (set) =>
    set({}, hub.primary.services.list.length),
  );
  gauge(
    'stickyscope_metrics_services_omitted',
    'Services left out of these metrics by --metrics-max-services (those with the fewest selections).',
    [],
    none,
    (set) => set({}, snapshot.omitted),
  );
  counter('stickyscope_events_total', 'Events received from the agents and aggregated.', [], none, (set) =>
    set({}, hub.events),
  );
  counter(
    'stickyscope_summaries_total',
    'Summaries received from the agents (serve --summaries), raw-streaming agents summarised here included.',
    [],
    none,
    (set) => set({}, hub.summaries?.received),
  );
  gauge('stickyscope_summary_nodes', 'Nodes whose summaries the figures sum (serve --summaries).', [], none, (set) =>
    set({}, hub.summaries?.nodes),
  );
  counter(
    'stickyscope_evictions_total',
    'What the aggregator dropped to bound its memory, by kind (idle and capacity: client entries; services: selections of new Services past its Services limit).',
    ['kind'],
    none,
    (set) => {
      for (const [kind, n] of Object.entries(hub.primary.evictions)) set({ kind }, n);
    },
  );
  counter(
    'stickyscope_summary_dropped_total',
    "What serve --summaries left out past its limits (an agent inventing keys): a new node's summaries, a node's new Services, a Service's new backends.",
    ['kind'],
    none,
    (set) => {
      const d = hub.summaries?.dropped;
      if (d) for (const [kind, n] of Object.entries(d)) set({ kind }, n);
    },
  );
  counter(
    'stickyscope_lost_events_total',
    'Events the agents reported lost (ring buffer full or this subscriber too slow).',
    [],
    none,
    (set) => set({}, hub.primary.roster.lostTotal),
  );

  counter(
    'stickyscope_rejected_events_total',
    'Events dropped on arrival as implausible (bad times, addresses...), by reason.',
    ['reason'],
    none,
    (set) => {
      for (const [reason, n] of Object.entries(hub.rejected.reasons)) set({ reason }, n);
    },
  );

  const AGENT = ['agent', 'node'];
  const agents = () => book.list();
  gauge('stickyscope_agent_up', 'Whether the agent is subscribed now (1) or not (0).', AGENT, agents, (set, list) => {
    for (const a of list) set({ agent: a.address, node: a.node }, a.up ? 1 : 0);
  });
  counter(
    'stickyscope_agent_stream_lost_events_total',
    "Lost events announced in the agent's stream to serve.",
    AGENT,
    agents,
    (set, list) => {
      for (const a of list) set({ agent: a.address, node: a.node }, hub.lostByNode.get(a.node) ?? 0);
    },
  );
  counter(
    'stickyscope_agent_ring_buffer_lost_events_total',
    "Records the agent's ring buffer could not take, as its Info says.",
    AGENT,
    agents,
    (set, list) => {
      for (const a of list) set({ agent: a.address, node: a.node }, a.info?.lostEvents);
    },
  );
  counter(
    'stickyscope_agent_subscriber_lost_events_total',
    "Events the agent's subscribers (all of them) missed by reading too slowly, as its Info says.",
    AGENT,
    agents,
    (set, list) => {
      for (const a of list) set({ agent: a.address, node: a.node }, a.info?.subscriberLost);
    },
  );
  gauge(
    'stickyscope_agent_subscribers',
    'Subscribers the agent serves, as its Info says.',
    AGENT,
    agents,
    (set, list) => {
      for (const a of list) set({ agent: a.address, node: a.node }, a.info?.subscribers);
    },
  );

  return {
    registry,
    async scrape() {
      snapshot = hub.summaries
        ? summaryFigures(hub.summaries, hub.primary, hub.windows[0]!, maxServices)
        : serviceSnapshot(hub.primary, maxServices);
      lastOmitted = snapshot.omitted;
      return registry.metrics();
    },
    omitted: () => lastOmitted,
  };
}
