// Scenario of gke-session-affinity-iptables.md (and the NodePort note of session-affinity-handson-ja.md): a NodePort
// Service, externalTrafficPolicy Local and ClientIP affinity, on two nodes with two pods each; one client is held to
// two pods, one per node, through the NodePorts and then through the ClusterIP.
import { defaultConfig, type LabConfig, type ProxySetup } from '../lab/config.js';
import { routeVia } from '../lab/lab.js';
import { readBackendLogs } from '../lab/traffic.js';
import type { BackendLogLine } from '../lab/traffic-types.js';
import { curlOnce, type CurlAnswer } from './netns-tools.js';
import { num, podOf, serviceAt, table } from './format.js';
import type { Scenario } from './types.js';
import { clientIp, httpUrl, nodeIp } from './family.js';
import { joinHostPort } from '../lab/ip-family.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from '../core/event.js';

const PHP = 'default/php-apache-svc:http';
export const NODE_PORT = 31332;
const CLUSTER_IP_REQUESTS = 3;

interface NodeportAnswer extends CurlAnswer {
  via: 'nodePort' | 'clusterIP';
  /** Node index the request entered (nodePort: whose address; clusterIP: routeVia). */
  node: number;
}

export interface NodeportEvidence {
  answers: NodeportAnswer[];
  backendLogs: BackendLogLine[];
}

function config(setup: ProxySetup): LabConfig {
  const c = defaultConfig({ ...setup, nodes: 2 });
  c.clients = 0;
  c.externalClients = 1;
  c.dualHomed = true;
  const edge = c.services.find((s) => s.name === 'edge')!;
  c.services = [
    {
      ...edge,
      namespace: 'default',
      name: 'php-apache-svc',
      portName: 'http',
      clusterIP: '10.96.0.30',
      nodePort: NODE_PORT,
      externalTrafficPolicy: 'Local',
      sessionAffinity: 'ClientIP',
      timeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS,
    },
  ];
  return c;
}

/**
 * One external client calls the NodePort of both nodes: each node remembers its own pick among its own pods. Then the
 * same client reaches the ClusterIP through one node and then the other: each node's per-endpoint lists already hold
 * it, so it diverges there too.
 */
export const nodeportLocal: Scenario<NodeportEvidence> = {
  name: 'nodeport-local',
  seed: 'gke-session-affinity-iptables.md',
  summary: 'NodePort, externalTrafficPolicy Local and ClientIP affinity on two nodes: one client, one pick per node',
  defaultPhaseMs: 10_000,
  config,
  async traffic(ctx) {
    const { lab } = ctx;
    const x1 = lab.clients[0]!;
    const svc = lab.services[0]!;
    const answers: NodeportAnswer[] = [];
    const ask = async (url: string, via: NodeportAnswer['via'], node: number) => {
      const a = await curlOnce(x1.netns, url, ctx.signal);
      if (a) answers.push({ ...a, via, node });
    };
    const rounds = Math.max(3, Math.round(ctx.phaseMs / 1000));
    ctx.say(`nodeport-local: ${rounds} requests from x1 to the NodePort of each node, one a second`);
    for (let i = 0; i < rounds && !ctx.signal.aborted; i++) {
      for (const node of [0, 1]) await ask(httpUrl(nodeIp(lab, node), NODE_PORT), 'nodePort', node);
      await new Promise((r) => setTimeout(r, 1000));
    }
    ctx.say(`nodeport-local: x1 to the ClusterIP through node 1, then through node 2`);
    for (const node of [0, 1]) {
      await routeVia(lab, x1.name, node);
      for (let i = 0; i < CLUSTER_IP_REQUESTS && !ctx.signal.aborted; i++)
        await ask(httpUrl(svc.clusterIP, svc.port), 'clusterIP', node);
    }
    await routeVia(lab, x1.name, 0);
    return { answers, backendLogs: await readBackendLogs(lab) };
  },
  lookAt: (lab) =>
    `Two nodes, two php-apache pods on each (b1, b2 on node 1; b3, b4 on node 2), Service ${PHP} with NodePort ` +
    `${NODE_PORT}, externalTrafficPolicy Local and sessionAffinity ClientIP. One external client (x1, ${clientIp(lab, lab.clients[0]!)}) ` +
    `calls ${joinHostPort(nodeIp(lab, 0), NODE_PORT)} and ${joinHostPort(nodeIp(lab, 1), NODE_PORT)} in turn: both node addresses and the ` +
    `ClusterIP are frontends of one Service row (their selections counted apart), x1 is held to one pod on each node ` +
    `(stickiness 1), and the two pods differ because each node picks only among its ` +
    `local pods and keeps its own affinity table. Then x1 calls the ClusterIP through node 1 and then node 2: ` +
    `the ${lab.config.proxyMode === 'nftables' ? 'affinity sets' : 'xt_recent lists'} belong to the endpoints and are shared by the NodePort and ClusterIP chains, so each ` +
    `node sends x1 back to the pod it picked for the NodePort, and the report's node divergence counts x1.`,
  answer(report, _ev, lab) {
    const lines: string[] = [];
    const x1 = clientIp(lab, lab.clients[0]!);
    const svc = lab.services[0]!;
    const cluster = serviceAt(report, `${joinHostPort(svc.clusterIP, svc.port)}/tcp`);
    const c = cluster?.clients.find((x) => x.client === x1);
    const rows = (cluster?.frontends ?? []).map((f) => [f.address, f.selections]);
    lines.push(
      `${cluster?.name ?? PHP}, one Service row; selections through each frontend:`,
      ...table(['frontend', 'selections'], rows),
      `x1 (${x1}) picks (report): ${
        Object.entries(c?.backends ?? {})
          .map(([b, n]) => `${podOf(lab, b)} x${n}`)
          .join(', ') || '-'
      }; stickiness ${num(c?.stickiness)}, held ${cluster?.affinityVerdicts.held ?? 0}, violation ${cluster?.affinityVerdicts.violation ?? 0}.`,
    );
    const div = cluster?.nodeDivergence;
    const byNode = div?.examples[0]
      ? Object.entries(div.examples[0].backends)
          .map(([n, b]) => `${n} -> ${podOf(lab, b)}`)
          .join(', ')
      : 'the same pod through both nodes';
    lines.push(
      `ClusterIP ${cluster?.service ?? '-'} through both nodes: ${div?.clients ?? 0} client(s) with different picks per node (${byNode}).`,
    );
    return lines;
  },
};
