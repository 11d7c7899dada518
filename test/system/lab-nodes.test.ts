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
