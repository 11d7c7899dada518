// topology (issue 29): two nodes in zones a and b (b1, b2 on node in a; b3, b4 on node2 in b), the lab served as a
// cluster's API so the report knows zones, hints and policies, and one client on node (zone a) calling four Services
// that make a promise: (a) PreferSameZone kept; (b) one endpoint without a zone hint, so the node falls back and picks
// cross zones; (c) uneven zones, the lone pod of zone a taking all of its zone's load; (d) internalTrafficPolicy Local
// with no pod on the client's node, the attempts dropped. The answer sets the report's topology beside the backends'
// logs and the client's own count of failed attempts.
import { defaultConfig, type LabConfig, type LabServiceSpec, type ProxySetup } from '../lab/config.js';
import { runClient } from '../lab/traffic.js';
import type { ClientResult } from '../lab/traffic-types.js';
import { backendIp } from './family.js';
import { joinHostPort } from '../lab/ip-family.js';
import { num, serviceIn, table } from './format.js';
import { setByteCounters } from './netns-tools.js';
import type { Scenario } from './types.js';

const CASES = ['zonal', 'nohint', 'lone', 'remote'] as const;
type Case = (typeof CASES)[number];
const ZONES: Record<string, string> = { node: 'a', node2: 'b' };
/** Connections per Service from c1 (the dropped ones wait out the timeout each). */
const CONNECTIONS = 40;
const DROPPED = 3;
const DROP_TIMEOUT_MS = 700;

export interface TopologyEvidence {
  /** Each case's connections as the client saw them, and the pod each went to (the backends' logs). */
  results: Record<Case, ClientResult[]>;
}

function config(setup: ProxySetup): LabConfig {
  const c = defaultConfig({ ...setup, nodes: 2 });
  c.clients = 1;
  c.externalClients = 0;
  c.zones = ZONES;
  const web = c.services.find((s) => s.name === 'web')!;
  const svc = (name: Case, last: number, more: Partial<LabServiceSpec>): LabServiceSpec => ({
    ...structuredClone(web),
    name,
    clusterIP: `10.96.0.${last}`,
    ...more,
  });
  c.services = [
    svc('zonal', 50, { trafficDistribution: 'PreferSameZone' }),
    svc('nohint', 51, {
      trafficDistribution: 'PreferSameZone',
      endpoints: web.endpoints.map((e) => (e.pod === 'b4' ? { ...e, hints: {} } : e)),
    }),
    svc('lone', 52, { trafficDistribution: 'PreferSameZone', endpoints: web.endpoints.filter((e) => e.pod !== 'b2') }),
    svc('remote', 53, { internalTrafficPolicy: 'Local', endpoints: web.endpoints.filter((e) => e.node === 'node2') }),
  ];
  return c;
}

const name = (c: Case) => `lab/${c}:http`;

export const topology: Scenario<TopologyEvidence> = {
  name: 'topology',
  seed: 'issue 29: kubernetes#122437, kubernetes#121371, AKS#4905',
  summary: 'zones and topology promises: PreferSameZone kept, one missing hint, uneven zones, Local with no local pod',
  defaultPhaseMs: 10_000,
  api: true,
  config,
  async prepare(ctx) {
    await setByteCounters(ctx);
  },
  async traffic(ctx) {
    const results = {} as Record<Case, ClientResult[]>;
    // The dropped attempts first: the backends' logs are matched by client address and port, which later
    // connections may reuse.
    ctx.say(`topology: ${DROPPED} attempts from c1 to ${name('remote')} (no pod on c1's node)`);
    results.remote = await runClient(
      ctx.lab,
      'c1',
      { service: name('remote'), mode: 'http', count: DROPPED, timeoutMs: DROP_TIMEOUT_MS },
      ctx.signal,
    );
    for (const c of ['zonal', 'nohint', 'lone'] as const) {
      ctx.say(`topology: ${CONNECTIONS} connections from c1 to ${name(c)}`);
      results[c] = await runClient(ctx.lab, 'c1', { service: name(c), mode: 'http', count: CONNECTIONS }, ctx.signal);
    }
    return { results };
  },
  lookAt: () =>
    "Two nodes in zones a (node: pods b1, b2) and b (node2: pods b3, b4), and the lab served as a cluster's API " +
    '(Nodes with zone labels, EndpointSlices with hints). Client c1 runs on node, zone a. lab/zonal asks ' +
    'PreferSameZone: every pick stays in zone a. lab/nohint asks the same, but b4 has no zone hint, so kube-proxy ' +
    'ignores every hint and node picks across zones; the report names the endpoint. lab/lone has one pod in zone a ' +
    "(b1) and two in b: b1 takes all of zone a's picks, as the topology implies. lab/remote has " +
    "internalTrafficPolicy Local and no pod on node: c1's attempts are dropped there, and the report says so. " +
    'Watch the TOPO column (same-zone share; ! where a node falls back) and open a Service for its topology lines.',
  answer(report, ev, lab) {
    const lines: string[] = [];
    const pods = (c: Case) => {
      const byPod = new Map<string, number>();
      for (const r of ev.results[c]) if (r.answer) byPod.set(r.answer, (byPod.get(r.answer) ?? 0) + 1);
      return byPod;
    };
    const zoneOfPod = (pod: string) => ZONES[lab.config.backends.find((b) => b.name === pod)?.node ?? ''] ?? '?';
    const rows = (['zonal', 'nohint', 'lone'] as const).map((c) => {
      const t = serviceIn(report, name(c))?.topology;
      const logged = [...pods(c)];
      const inA = logged.filter(([p]) => zoneOfPod(p) === 'a').reduce((n, [, k]) => n + k, 0);
      return [name(c), `${t?.sameZone ?? '-'} / ${t?.crossZone ?? '-'}`, `${inA} / ${ev.results[c].length - inA}`];
    });
    lines.push(
      "Picks from c1 (node, zone a) in its zone / across zones: the report, and the backends' answers.",
      ...table(['Service', 'report', 'answers'], rows),
    );
    const nohint = serviceIn(report, name('nohint'))?.topology?.nodes.find((n) => n.node === lab.nodes[0]);
    lines.push(`${name('nohint')} on ${lab.nodes[0]}: ${nohint?.fallback ?? 'no fallback reported'}.`);
    const b1 = lab.backends.find((b) => b.name === 'b1')!;
    const lone = serviceIn(report, name('lone'))?.topology?.backends.find(
      (b) => b.backend === joinHostPort(backendIp(lab, b1), 8080),
    );
    lines.push(
      `${name('lone')}: b1, zone a's only pod, took ${lone?.selections ?? '-'} picks, ${num(lone?.expectedSelections, 1)} expected by the topology (answers: ${pods('lone').get('b1') ?? 0} of ${ev.results.lone.length}).`,
    );
    const remote = serviceIn(report, name('remote'));
    const dropped = ev.results.remote.filter((r) => r.answer === null).length;
    const on = remote?.noEndpoints
      ? `${remote.noEndpoints.mode} on ${remote.noEndpoints.nodes.join(', ')}`
      : 'not refused';
    const why = remote?.topology?.nodes.find((n) => n.node === lab.nodes[0])?.fallback;
    lines.push(
      `${name('remote')}: refused by kube-proxy (${on})${why ? `: ${why}` : ''}; c1's attempts that got no answer: ${dropped} of ${ev.results.remote.length}.`,
    );
    return lines;
  },
};
