// The agent's summable series (agent --metrics): its own node's reducer counts per Service
// and backend, counters only, so that Prometheus sums them over nodes into the cluster's
// figures (docs/design.md, "Cluster-wide figures from the agents"). Never per client.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Summarizer } from '../aggregator/summarize.js';
import type { ServiceCounts } from '../core/summary.js';

type Labels = Record<string, string>;

/** Adds the per-Service series to `registry`, read from the summarizer at scrape time, for at most `maxServices` Services. */
export function addSummaryMetrics(registry: Registry, summarizer: Summarizer, maxServices: number): void {
  interface Row {
    labels: Labels;
    counts: ServiceCounts;
    clients: number;
  }
  let rows: Row[] = [];
  let omitted = 0;
  // One read of the reducer per scrape, taken by the first series collected.
  const refresh = () => {
    const state = summarizer.state;
    const all = summarizer.totals();
    const recs = state.services.list;
    const order = all
      .map((c, i) => ({ c, i, n: recs[i]!.cum.selections }))
      .sort((a, b) => b.n - a.n || (a.c.service < b.c.service ? -1 : a.c.service > b.c.service ? 1 : 0))
      .slice(0, maxServices);
    omitted = all.length - order.length;
    rows = order.map(({ c, i }) => ({
      labels: { service: recs[i]!.latest?.info.name ?? c.service, address: c.service },
      counts: c,
      clients: summarizer.clientsEstimate(recs[i]!),
    }));
  };
  const series = (
    kind: 'counter' | 'gauge',
    name: string,
    help: string,
    extra: string[],
    fill: (set: (labels: Labels, v: number) => void, r: Row) => void,
    first = false,
  ) => {
    const config = { name, help, labelNames: ['service', 'address', ...extra], registers: [registry] };
    if (kind === 'counter')
      new Counter({
        ...config,
        collect() {
          if (first) refresh();
          this.reset();
          for (const r of rows) fill((labels, v) => this.inc(labels, v), r);
        },
      });
    else
      new Gauge({
        ...config,
        collect() {
          this.reset();
          for (const r of rows) fill((labels, v) => this.set(labels, v), r);
        },
      });
  };
  series(
    'counter',
    'stickyscope_node_backend_selections_total',
    "Selections of the backend on this node (every endpoint the node's rules list, zeros included). Summed over nodes: the cluster's per-backend counts, whose max over mean is the spread.",
    ['backend'],
    (set, r) => {
      for (const b of r.counts.backends) set({ ...r.labels, backend: b.backend }, b.selections);
    },
    true,
  );
  series(
    'counter',
    'stickyscope_node_consecutive_selections_total',
    "A client's consecutive selections on this node (pairs). sum(..._kept_backend_total) / sum(this) over nodes is the stickiness.",
    [],
    (set, r) => set(r.labels, r.counts.pairs),
  );
  series(
    'counter',
    'stickyscope_node_consecutive_selections_kept_backend_total',
    "A client's consecutive selections on this node that picked the same backend as the previous one.",
    [],
    (set, r) => set(r.labels, r.counts.sameBackend),
  );
  series(
    'counter',
    'stickyscope_node_affinity_verdicts_total',
    'Consecutive selections judged against sessionAffinity on this node, by verdict (held, violation, forcedRepick, expired).',
    ['verdict'],
    (set, r) => {
      const c = r.counts;
      for (const [verdict, v] of [
        ['held', c.held],
        ['violation', c.violations],
        ['forcedRepick', c.forcedRepick],
        ['expired', c.expired],
      ] as const)
        set({ ...r.labels, verdict }, v);
    },
  );
  series(
    'counter',
    'stickyscope_node_affinity_violations_total',
    'Affinity violations on this node whose cause is settled, by cause (listFull, setFull, crossFrontend, unknown).',
    ['cause'],
    (set, r) => {
      for (const cause of ['listFull', 'setFull', 'crossFrontend', 'unknown'] as const)
        set({ ...r.labels, cause }, r.counts[cause]);
    },
  );
  series(
    'counter',
    'stickyscope_node_udp_continuity_changes_total',
    'UDP conntrack entries replaced on the same flow on this node (replacements), and of them those that moved backend or reflective address.',
    ['change'],
    (set, r) => {
      if (!r.labels.address!.endsWith('/udp')) return;
      const c = r.counts;
      set({ ...r.labels, change: 'replacements' }, c.udpReplacements);
      set({ ...r.labels, change: 'backendChanged' }, c.udpBackendChanged);
      set({ ...r.labels, change: 'reflectiveChanged' }, c.udpReflectiveChanged);
    },
  );
  series(
    'gauge',
    'stickyscope_node_service_clients_estimate',
    "Distinct client IPs of the Service on this node since the agent started (HyperLogLog, ~3% error). Not summable: clients seen by several nodes would count twice; serve's stickyscope_service_clients_estimate merges the nodes' sketches.",
    [],
    (set, r) => set(r.labels, r.clients),
  );
  new Gauge({
    name: 'stickyscope_node_metrics_services_omitted',
    help: 'Services left out of the per-Service series by agent --metrics-max-services (those with the fewest selections).',
    registers: [registry],
    collect() {
      this.set(omitted);
    },
  });
}
