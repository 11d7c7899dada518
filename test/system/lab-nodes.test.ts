// Two nodes: each applies its own rules, and externalTrafficPolicy Local keeps
// NodePort traffic on the receiving node's pods with the client's address intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { backendOf, startLab } from '../helpers/lab-fixture.js';
import { defaultConfig, runClient } from '../../src/lab/lab.js';

test('two nodes: NodePort with externalTrafficPolicy Local stays on node-local endpoints', async (t) => {
  if (!requireRoot(t)) return;
  const lab = await startLab(t, defaultConfig({ nodes: 2 }));
  assert.equal(lab.nodes.length, 2);
  const x1 = lab.clients.find((c) => c.external)!;
  for (const node of [0, 1]) {
    const results = await runClient(lab, x1.name, {
      service: 'lab/edge:http',
      mode: 'http',
      count: 12,
      via: 'nodePort',
      node,
    });
    const joined = await backendOf(lab, results);
    const local = new Set(lab.backends.filter((b) => b.node === lab.nodes[node]).map((b) => b.name));
    for (const [r, line] of joined) {
      assert.ok(line, `no backend logged ${r.local} (answer ${r.answer ?? r.error})`);
      assert.ok(local.has(line.backend), `node ${node} sent ${r.local} to ${line.backend}, not a local pod`);
      assert.equal(line.peer, r.local, 'Local policy preserves the client address');
    }
  }
  // ClusterIP traffic from a pod on node 1 reaches pods on both nodes.
  const web = await backendOf(lab, await runClient(lab, 'c1', { service: 'lab/web:http', mode: 'http', count: 40 }));
  const nodesHit = new Set([...web.values()].map((l) => lab.backends.find((b) => b.name === l!.backend)!.node));
  assert.equal(nodesHit.size, 2);
});

test("four nodes in three zones: every node reached through node 1; PreferSameZone keeps zone a's pods", async (t) => {
  if (!requireRoot(t)) return;
  const config = defaultConfig({ nodes: 4 });
  config.zones = { node: 'a', node2: 'b', node3: 'c', node4: 'a' };
  const web = config.services.find((s) => s.name === 'web')!;
  config.services.push({ ...web, name: 'zonal', clusterIP: '10.96.0.40', trafficDistribution: 'PreferSameZone' });
  const lab = await startLab(t, config);
  assert.equal(lab.nodes.length, 4);
  const x1 = lab.clients.find((c) => c.external)!;
  // Each node's NodePort (Local) answers from its own two pods: the node is wired and its rules applied.
  for (const node of [0, 1, 2, 3]) {
    const results = await runClient(lab, x1.name, {
      service: 'lab/edge:http',
      mode: 'http',
      count: 6,
      via: 'nodePort',
      node,
    });
    const local = new Set(lab.backends.filter((b) => b.node === lab.nodes[node]).map((b) => b.name));
    for (const [r, line] of await backendOf(lab, results))
      assert.ok(line && local.has(line.backend), `node ${node + 1}: ${r.local} went to ${line?.backend}`);
  }
  // c1 is on node (zone a): zone a's pods are node's b1, b2 and node4's b7, b8.
  const results = await runClient(lab, 'c1', { service: 'lab/zonal:http', mode: 'http', count: 60 });
  const served = new Set([...(await backendOf(lab, results)).values()].map((l) => l?.backend));
  assert.deepEqual([...served].sort(), ['b1', 'b2', 'b7', 'b8']);
});
