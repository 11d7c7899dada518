// The agent's own /metrics (agent --metrics): the probe's records by type and its losses,
// attach points, subscribers, the node's conntrack counters, and how full every affinity
// (xt_recent) list is, which warns before clients start being evicted (listFull); and the
// node's own per-Service counts, summable over nodes (summary-metrics.ts).
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { CountersEvent, StickyEvent } from '../core/event.js';
import type { AgentServer, EventSource } from './server.js';
import type { EvictionWatcher } from './xt-recent.js';
import type { Summarizer } from '../aggregator/summarize.js';
import { addSummaryMetrics } from './summary-metrics.js';

export interface AgentMetricsOptions {
  node: string;
  /** The probe: its records are counted as they pass, nothing else is done per event. */
  probe: EventSource;
  server: AgentServer;
  recent?: EvictionWatcher;
  attachPoints: readonly string[];
  /** The node's reducer: with it, the summable per-Service and per-backend series (summary-metrics.ts). */
  summarizer?: Summarizer;
  /** Services in those series at most (default 500). */
  maxServices?: number;
}

export interface AgentMetrics {
  registry: Registry;
  http: Server;
  /** Stops counting (the HTTP server is closed by its owner). */
  detach(): void;
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

  const registry = new Registry();
  registry.setDefaultLabels({ node: opts.node });
  collectDefaultMetrics({ register: registry });
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter) => void) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this);
      },
    });
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this);
      },
    });

  counter(
    'stickyscope_agent_records_total',
    'Records the probe handed over, by type (dnat, snat, lost, counters, ...).',
    ['type'],
    (c) => {
      for (const [type, n] of byType) c.inc({ type }, n);
    },
  );
  counter(
    'stickyscope_agent_ring_buffer_lost_records_total',
    'Records the BPF ring buffer could not take (the probe fell behind).',
    [],
    (c) => c.inc(lost),
  );
  gauge(
    'stickyscope_agent_attach_point_info',
    'A netfilter hook the probe is attached at (hook/priority).',
    ['point'],
    (g) => {
      // The link id changes with every attach: left out, so a restart does not make new series.
      for (const point of opts.attachPoints) g.set({ point: point.replace(/ link \d+$/, '') }, 1);
    },
  );
  gauge('stickyscope_agent_subscribers', 'Subscribers being served now.', [], (g) =>
    g.set(opts.server.info().subscribers),
  );
  counter(
    'stickyscope_agent_subscriber_lost_events_total',
    'Events subscribers missed by reading too slowly (all subscribers, gone ones included).',
    [],
    (c) => c.inc(opts.server.info().subscriberLost),
  );
  counter(
    'stickyscope_agent_limit_hits_total',
    "Clients refused or cut by the agent's limits, by kind (rejectedSubscribers, invalidFilters, oversizedMessages, stalledSubscribers, pingFloods).",
    ['kind'],
    (c) => {
      for (const [kind, n] of Object.entries(opts.server.info().limits)) c.inc({ kind }, n);
    },
  );
  const ct = (name: string, help: string, pick: (c: CountersEvent) => number) =>
    counter(name, help, [], (c) => {
      const now = counters as CountersEvent | null;
      if (now) c.inc(pick(now));
    });
  ct(
    'stickyscope_conntrack_insert_failed_total',
    "The kernel's conntrack insert_failed count (summed over CPUs).",
    (c) => c.insertFailed,
  );
  ct('stickyscope_conntrack_drop_total', "The kernel's conntrack drop count (summed over CPUs).", (c) => c.drop);
  ct(
    'stickyscope_conntrack_early_drop_total',
    "The kernel's conntrack early_drop count (summed over CPUs).",
    (c) => c.earlyDrop,
  );
  gauge('stickyscope_conntrack_entries', 'Conntrack entries in the node now.', [], (g) => {
    const now = counters as CountersEvent | null;
    if (now) g.set(now.entries);
  });
  const LIST = ['list', 'endpoint'];
  gauge(
    'stickyscope_affinity_list_entries',
    'Clients in the xt_recent list of a ClientIP affinity endpoint.',
    LIST,
    (g) => {
      for (const l of opts.recent?.fill().lists ?? []) g.set({ list: l.list, endpoint: l.endpoint }, l.entries);
    },
  );
  gauge(
    'stickyscope_affinity_list_capacity',
    'Entries an xt_recent list holds at most (ip_list_tot); a full list evicts clients early.',
    [],
    (g) => {
      const cap = opts.recent?.fill().capacity;
      if (cap) g.set(cap);
    },
  );
  gauge(
    'stickyscope_affinity_list_fill_ratio',
    'Entries over ip_list_tot for each affinity list: at 1, clients are evicted before their timeout (listFull violations).',
    LIST,
    (g) => {
      const fill = opts.recent?.fill();
      if (!fill?.capacity) return;
      for (const l of fill.lists) g.set({ list: l.list, endpoint: l.endpoint }, l.entries / fill.capacity);
    },
  );

  if (opts.summarizer) addSummaryMetrics(registry, opts.summarizer, opts.maxServices ?? 500);

  const http = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' })
        .end(`method ${req.method} not allowed\n`);
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such path; expected /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) =>
        res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`failed to collect: ${err.message}\n`),
    );
  });
  return { registry, http, detach: () => opts.probe.off('events', onEvents) };
}
