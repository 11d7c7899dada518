// Scenario nodeport-local: one external client, a NodePort Service (externalTrafficPolicy Local, ClientIP) on two
// nodes. The report must show the one pod per node address the backends' logs show, and through the ClusterIP each node
// keeps that pod (its per-endpoint lists hold the client) and the divergence is counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import {
  connectionLines,
  inFamily,
  podOfAddress,
  runScenarioForTest,
  scenarioSetups,
} from '../helpers/scenario-run.js';
import { joinHostPort } from '../../src/lab/ip-family.js';
import { nodeportLocal, NODE_PORT } from '../../src/scenarios/nodeport-local.js';

for (const { label, setup } of scenarioSetups) {
  test(`scenario nodeport-local (${label}): one pick per node among its local pods; divergence as the pods answered`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { report, evidence } = await runScenarioForTest(t, nodeportLocal, 3000, setup);
    assert.equal(report.lostEvents, 0);
    const x1 = inFamily(setup, '10.2.1.2');
    const lineOf = connectionLines(
      evidence.answers.filter((a) => a.via === 'nodePort'),
      evidence.backendLogs.filter((l) => l.proto === 'tcp'),
    );
    const local = [
      ['b1', 'b2'],
      ['b3', 'b4'],
    ];
    const held: string[] = [];
    for (const node of [0, 1]) {
      const answers = evidence.answers.filter((a) => a.via === 'nodePort' && a.node === node);
      assert.equal(answers.length, 3);
      // externalTrafficPolicy Local keeps the client's address: the log's peer is curl's socket.
      const pods = answers.map((a) => {
        assert.equal(lineOf.get(a)!.backend, a.pod, `${a.local}: curl's answer is the pod that logged it`);
        return a.pod;
      });
      assert.equal(new Set(pods).size, 1, `node ${node + 1} held x1 to one pod: ${pods}`);
      assert.ok(local[node]!.includes(pods[0]!), `node ${node + 1} picked its own pod: ${pods[0]}`);
      held.push(pods[0]!);
    }
    assert.notEqual(held[0], held[1], 'the one client is held to two different pods');

    // ClusterIP through each node: the answering pod's name (curl's body) is the ground truth.
    const via = [0, 1].map((node) =>
      evidence.answers.filter((a) => a.via === 'clusterIP' && a.node === node).map((a) => a.pod),
    );
    for (const pods of via) assert.equal(new Set(pods).size, 1, `affinity held on each node: ${pods}`);
    // The lists are per endpoint, shared by the NodePort (KUBE-SVL) and ClusterIP (KUBE-SVC) chains.
    assert.deepEqual([via[0]![0], via[1]![0]], held, 'the ClusterIP kept the pod each node picked for the NodePort');
    // The NodePort at each node and the ClusterIP are one Service port: one entry, x1's picks of both paths in it.
    const cluster = `${joinHostPort(inFamily(setup, '10.96.0.30'), 80)}/tcp`;
    const s = report.services.find((x) => x.service === cluster);
    assert.ok(
      s,
      `the Service is in the report under its ClusterIP: ${report.services.map((x) => x.service).join(', ')}`,
    );
    assert.deepEqual(
      Object.fromEntries((s.frontends ?? []).map((f) => [f.address, f.selections])),
      {
        [cluster]: via.flat().length,
        [`${joinHostPort(inFamily(setup, '10.3.0.1'), NODE_PORT)}/tcp`]: 3,
        [`${joinHostPort(inFamily(setup, '10.3.0.2'), NODE_PORT)}/tcp`]: 3,
      },
      'selections through each frontend, as the answers came',
    );
    const c = s.clients.find((x) => x.client === x1);
    assert.ok(c, 'x1 is a client there');
    const answered: Record<string, number> = {};
    for (const a of evidence.answers) answered[a.pod] = (answered[a.pod] ?? 0) + 1;
    assert.deepEqual(
      Object.fromEntries(Object.entries(c.backends).map(([b, n]) => [podOfAddress(b), n])),
      answered,
      "x1's picks by pod, as the pods answered",
    );
    assert.equal(c.stickiness, 1, 'each node held x1 to its pod, NodePort and ClusterIP alike');
    const differ = via[0]![0] !== via[1]![0];
    assert.equal(
      s.nodeDivergence.clients,
      differ ? 1 : 0,
      `pods through node 1 and node 2: ${via[0]![0]}, ${via[1]![0]}`,
    );
    if (differ)
      assert.deepEqual(Object.values(s.nodeDivergence.examples[0]!.backends).map(podOfAddress), [
        via[0]![0],
        via[1]![0],
      ]);
    t.diagnostic(
      `NodePort: node1 -> ${held[0]}, node2 -> ${held[1]}; ClusterIP: node1 -> ${via[0]![0]}, node2 -> ${via[1]![0]}`,
    );
  });
}
