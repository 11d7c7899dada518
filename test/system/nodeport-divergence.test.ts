// Issue 3, node-local divergence through NodePorts: external clients call `lab/edge` (NodePort, externalTrafficPolicy
// Local) at each node's address; the report must name both addresses `lab/edge:http` and, under each with `via`, the
// clients whose backend differs between the nodes, as the backends' logs show it; in iptables mode and in both nftables shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents, startReportCli } from '../helpers/agents.js';
import {
  defaultConfig,
  readBackendLogs,
  runClient,
  type BackendLogLine,
  type ClientResult,
} from '../../src/lab/lab.js';
import type { ProxySetup } from '../../src/lab/config.js';

const EDGE = 'lab/edge:http';
const EXTERNAL = ['x1', 'x2', 'x3', 'x4'];
const PER_NODE = 3;

/** The backend that logged each result: the latest line of its ip:port before the answer (ports get reused). */
function backendOf(logs: BackendLogLine[], r: ClientResult): string {
  const line = logs.filter((l) => l.proto === 'tcp' && l.peer === r.local && l.ts <= r.ts).at(-1);
  assert.ok(line, `no backend logged ${r.client} ${r.local} (answer ${r.answer ?? r.error})`);
  assert.equal(r.answer, line.backend, `${r.local} answered by ${r.answer}, logged by ${line.backend}`);
  return line.backend;
}

const setups: { label: string; setup: ProxySetup }[] = [
  { label: 'iptables', setup: { proxyMode: 'iptables' } },
  // externalTrafficPolicy Local in nftables mode: the external chain picks among the node's own endpoints, through
  // endpoint chains (1.35) or an inline DNAT map (1.36).
  { label: 'nftables 1.35', setup: { proxyMode: 'nftables', kubeVersion: '1.35' } },
  { label: 'nftables 1.36', setup: { proxyMode: 'nftables', kubeVersion: '1.36' } },
];

for (const { label, setup } of setups) {
  test(`${label}: a client reaching one Service through two nodes' NodePorts shows node-local divergence`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const config = defaultConfig({ ...setup, nodes: 2 });
    config.clients = 0;
    config.externalClients = EXTERNAL.length;
    config.services = config.services.filter((s) => s.name === 'edge');
    const { lab, agents } = await startLabWithAgents(t, config);
    const report = await startReportCli(t, agents);

    const runs: { client: string; node: number; results: ClientResult[] }[] = [];
    for (const client of EXTERNAL) {
      for (const node of [0, 1]) {
        const results = await runClient(lab, client, {
          service: EDGE,
          mode: 'http',
          count: PER_NODE,
          via: 'nodePort',
          node,
        });
        assert.equal(results.length, PER_NODE);
        assert.ok(
          results.every((r) => r.answer),
          `${client} via node ${node}: ${results.map((r) => r.error).join(', ')}`,
        );
        runs.push({ client, node, results });
      }
    }
    await report.waitForDnat(runs.reduce((n, run) => n + run.results.length, 0));
    const r = await report.finish();

    // Ground truth: the backend of each client's last request through each node, from the logs.
    const logs = await readBackendLogs(lab);
    const ep = (name: string) => `${lab.backends.find((b) => b.name === name)!.ip}:8080`;
    const ipOf = (client: string) => lab.clients.find((c) => c.name === client)!.ip;
    const last = new Map<string, Record<string, string>>();
    for (const run of runs) {
      const backends = run.results.map((x) => backendOf(logs, x));
      for (const b of backends) {
        assert.equal(
          lab.backends.find((x) => x.name === b)!.node,
          lab.nodes[run.node],
          `${run.client} via node ${run.node} reached ${b}, a pod of that node (Local policy)`,
        );
      }
      last.set(run.client, { ...last.get(run.client), [lab.nodes[run.node]!]: ep(backends.at(-1)!) });
    }
    const addr = (node: number) => `${lab.nodeIP(node)}:30080/tcp`;
    const expected = [...last]
      .filter(([, byNode]) => new Set(Object.values(byNode)).size > 1)
      .map(([client, backends]) => ({
        client: ipOf(client),
        backends,
        via: { [lab.nodes[0]!]: addr(0), [lab.nodes[1]!]: addr(1) },
      }))
      .sort((a, b) => (a.client < b.client ? -1 : 1));
    assert.ok(expected.length >= 1, 'some client got different pods through the two nodes');

    // Both nodes' NodePort addresses are frontends of one Service port: one entry, each address's selections apart.
    const named = r.services.filter((x) => x.name === EDGE);
    assert.equal(
      named.length,
      1,
      `one entry for ${EDGE}; the report has ${r.services.map((x) => x.service).join(', ')}`,
    );
    const s = named[0]!;
    for (const node of [0, 1])
      assert.equal(
        s.frontends?.find((f) => f.address === addr(node))?.selections,
        EXTERNAL.length * PER_NODE,
        `selections through ${addr(node)}`,
      );
    assert.equal(s.selections, 2 * EXTERNAL.length * PER_NODE);
    assert.deepEqual(
      s.nodeDivergence,
      { clients: expected.length, examples: expected },
      'divergence, via each address',
    );
    t.diagnostic(`${expected.length} of ${EXTERNAL.length} clients diverged across the two NodePorts`);
  });
}
