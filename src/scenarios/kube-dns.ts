// affinity-kube-dns-conntrack.md: 3 dnsmasq pods behind a UDP/TCP DNS Service, dnsperf from many client pods, once
// without and once with ClientIP affinity. The report claims affinity evened the load by merging conntrack entries; the
// node's conntrack table, dnsmasq's query logs and dnsperf's statistics let a user test that.
import { defaultConfig, type LabConfig, type ProxySetup, type LabServiceSpec } from '../lab/config.js';
import { setEndpoints } from '../lab/lab.js';
import { stopChild } from './agents.js';
import {
  readQueries,
  runDnsperf,
  startDnsmasq,
  writeQueryFile,
  ZONE,
  type DnsperfStats,
  type LoggedQuery,
} from './dns.js';
import { conntrackEntries, countBy, type ConntrackEntry } from './netns-tools.js';
import { maxOverMean, num, podOf, selectionsByPod, serviceIn, table } from './format.js';
import type { Lab } from '../lab/lab.js';
import type { Report } from '../report/types.js';
import type { Scenario, ScenarioContext } from './types.js';
import { backendIp } from './family.js';

export const PLAIN = 'kube-system/kube-dns:dns';
export const STICKY = 'kube-system/kube-dns-affinity:dns';
const CLIENTS = 10;
/** dnsperf -c: sockets per client pod, each a UDP flow (one conntrack entry) of its own. */
export const SOCKETS = 3;
const QPS_PER_CLIENT = 60;

interface DnsRun {
  service: string;
  clusterIP: string;
  dnsperf: DnsperfStats[];
  /** The node's UDP entries to the Service after the run. */
  conntrack: ConntrackEntry[];
  /** What dnsmasq logged during the run. */
  queries: LoggedQuery[];
}

export interface KubeDnsEvidence {
  runs: DnsRun[];
}

function config(setup: ProxySetup): LabConfig {
  const c = defaultConfig(setup);
  c.clients = CLIENTS;
  c.externalClients = 0;
  const base = c.services.find((s) => s.name === 'web')!;
  const port = (
    name: string,
    ip: string,
    portName: string,
    protocol: 'udp' | 'tcp',
    affinity: boolean,
  ): LabServiceSpec => ({
    ...structuredClone(base),
    namespace: 'kube-system',
    name,
    portName,
    clusterIP: ip,
    port: 53,
    protocol,
    // Endpoints come once dnsmasq listens (prepare): the lab's own backend servers must not take port 53.
    endpoints: [],
    ...(affinity ? { sessionAffinity: 'ClientIP' as const, timeoutSeconds: 20 } : {}),
  });
  // The same three pods behind two Services, one per run, so the report keeps the runs apart.
  c.services = [
    port('kube-dns', '10.96.0.10', 'dns', 'udp', false),
    port('kube-dns', '10.96.0.10', 'dns-tcp', 'tcp', false),
    port('kube-dns-affinity', '10.96.0.11', 'dns', 'udp', true),
    port('kube-dns-affinity', '10.96.0.11', 'dns-tcp', 'tcp', true),
  ];
  return c;
}

async function dnsRun(
  ctx: ScenarioContext,
  service: string,
  from: Map<string, number>,
): Promise<{ run: DnsRun; lines: Map<string, number> }> {
  const { lab } = ctx;
  const s = lab.services.find((x) => x.serviceName === service)!;
  const seconds = Math.max(1, Math.round(ctx.phaseMs / 1000));
  ctx.say(
    `kube-dns: dnsperf from ${lab.clients.length} pods, ${SOCKETS} sockets and ${QPS_PER_CLIENT} queries/s each, for ${seconds} s, to ${service} (${s.clusterIP})`,
  );
  const dnsperf = await Promise.all(
    lab.clients.map((c) =>
      runDnsperf(lab, c.name, s.clusterIP, { sockets: SOCKETS, qps: QPS_PER_CLIENT, seconds, signal: ctx.signal }),
    ),
  );
  await new Promise((r) => setTimeout(r, 300)); // dnsmasq's last log lines
  const { queries, lines } = readQueries(lab, from);
  return {
    run: {
      service,
      clusterIP: s.clusterIP,
      dnsperf,
      conntrack: await conntrackEntries(lab.nodes[0]!, 'udp', s.clusterIP),
      queries,
    },
    lines,
  };
}

function runLines(lab: Lab, report: Report, r: DnsRun): string[] {
  const pods = lab.backends.map((b) => b.name);
  const s = serviceIn(report, r.service);
  const sel = selectionsByPod(lab, s);
  const entries = countBy(r.conntrack, (e) => podOf(lab, e.backend));
  const queries = countBy(r.queries, (q) => q.pod);
  const clients = new Map((s?.backends ?? []).map((b) => [podOf(lab, b.backend), b.clients]));
  const sent = r.dnsperf.reduce((n, d) => n + d.sent, 0);
  const completed = r.dnsperf.reduce((n, d) => n + d.completed, 0);
  return [
    `${r.service} (${s?.service ?? 'not in the report'}), affinity ${s?.affinity.mode ?? '-'}:`,
    ...table(
      ['pod', 'selections (report)', 'conntrack entries', 'queries (dnsmasq)', 'client pods (report)'],
      pods.map((p) => [p, sel.get(p) ?? 0, entries.get(p) ?? 0, queries.get(p) ?? 0, clients.get(p) ?? 0]),
    ),
    `  spread of selections: maxOverMean ${num(s?.spread.maxOverMean)}, chi2P ${num(s?.spread.chi2P, 3)}; of queries: maxOverMean ${num(maxOverMean(pods, queries))}`,
    `  dnsperf: ${sent} queries sent, ${completed} completed; dnsmasq logged ${r.queries.length}; conntrack entries ${r.conntrack.length}, selections ${s?.selections ?? 0}`,
  ];
}

export const kubeDns: Scenario<KubeDnsEvidence> = {
  name: 'kube-dns',
  seed: 'affinity-kube-dns-conntrack.md',
  summary:
    'dnsperf from 10 pods against 3 dnsmasq pods, without and with ClientIP affinity: spread and conntrack entries',
  defaultPhaseMs: 10_000,
  config,
  async prepare(ctx) {
    const { lab } = ctx;
    for (const b of lab.backends) {
      const server = await startDnsmasq(lab, b);
      ctx.defer(() => stopChild(server.child));
    }
    writeQueryFile(lab);
    for (const s of [...lab.services]) {
      await setEndpoints(
        lab,
        s.serviceName,
        lab.backends.map((b) => ({ ip: backendIp(lab, b), port: 53, pod: b.name, node: 'node' })),
      );
    }
  },
  async traffic(ctx) {
    const first = await dnsRun(ctx, PLAIN, new Map());
    const runs = [first.run];
    if (!ctx.signal.aborted) runs.push((await dnsRun(ctx, STICKY, first.lines)).run);
    return { runs };
  },
  lookAt: () =>
    `Three dnsmasq pods (b1-b3) serve ${ZONE} behind kube-dns; ${CLIENTS} client pods run dnsperf, each with ` +
    `${SOCKETS} UDP sockets, first against ${PLAIN} (no affinity), then against ${STICKY} (ClientIP, 20 s). ` +
    `Each socket is one conntrack entry and one selection; the queries on it all go to the pod it picked. ` +
    `Compare the two Services' spread (maxOverMean, chi-square) and, in the answer, the conntrack entries and ` +
    `dnsmasq's query counts per pod: affinity does not reduce the entries (one per socket either way), it ` +
    `makes the pick per client pod instead of per socket, so whether it evens the load depends on how many ` +
    `clients there are and how much each sends.`,
  answer(report, ev, lab) {
    const lines = ev.runs.flatMap((r) => runLines(lab, report, r));
    const [plain, sticky] = ev.runs;
    if (plain && sticky) {
      const pods = lab.backends.map((b) => b.name);
      const m = (r: DnsRun) =>
        maxOverMean(
          pods,
          countBy(r.queries, (q) => q.pod),
        ) ?? 0;
      lines.push(
        `Did affinity even the load? Queries maxOverMean ${num(m(plain))} without, ${num(m(sticky))} with (${m(sticky) < m(plain) ? 'more even with affinity in this run' : 'not more even with affinity in this run'}); conntrack entries ${plain.conntrack.length} without, ${sticky.conntrack.length} with.`,
      );
    }
    return lines;
  },
};
