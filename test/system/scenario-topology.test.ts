// Scenario topology (issue 29 §4): zones a and b, the lab served as a cluster's API, one client in zone a and four
// promises. Every mode and family must give, against the client's answers (the pod that answered each connection)
// and the pods' zones: the same-zone and cross-zone picks per case, the fallback's cause (b4 has no zone hint), the
// lone pod's picks equal to what the topology implies, and lab/remote dropped on the client's node with every attempt
// unanswered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { inFamily, runScenarioForTest, scenarioSetups } from '../helpers/scenario-run.js';
import { topology } from '../../src/scenarios/topology.js';

const ZONE_A = new Set(['b1', 'b2']);

for (const { label, setup } of scenarioSetups) {
  test(`scenario topology (${label}): picks by zone, the fallback's cause, the lone pod, the dropped attempts`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { report, evidence, lines } = await runScenarioForTest(t, topology, 3000, setup);
    assert.equal(report.lostEvents, 0);
    const node = report.nodes.find((n) => n.endsWith('-node'))!;
    const row = (c: string) => report.services.find((s) => s.name === `lab/${c}:http`)!;
    for (const c of ['zonal', 'nohint', 'lone'] as const) {
      const answers = evidence.results[c];
      assert.equal(answers.length, 40);
      assert.ok(
        answers.every((r) => r.answer !== null),
        `${c}: every connection answered`,
      );
      const inA = answers.filter((r) => ZONE_A.has(r.answer!)).length;
      const n = row(c).topology!.nodes.find((x) => x.node === node)!;
      assert.deepEqual([n.zone, n.sameZone, n.crossZone], ['a', inA, 40 - inA], `${c}: picks by zone`);
    }
    // (a) kept, (c) lone: all in zone a; (b) falls back, naming b4.
    assert.equal(evidence.results.zonal.filter((r) => ZONE_A.has(r.answer!)).length, 40);
    const b4 = inFamily(setup, '10.1.4.2');
    const fallback = row('nohint').topology!.nodes.find((x) => x.node === node)!.fallback;
    assert.equal(
      fallback,
      `same-zone hints ignored: endpoint ${b4.includes(':') ? `[${b4}]` : b4}:8080 has no zone hint`,
    );
    const b1 = inFamily(setup, '10.1.1.2');
    const lone = row('lone').topology!.backends.find(
      (b) => b.backend === (b1.includes(':') ? `[${b1}]:8080` : `${b1}:8080`),
    )!;
    const b1Answers = evidence.results.lone.filter((r) => r.answer === 'b1').length;
    assert.deepEqual([lone.zone, lone.selections, lone.expectedSelections], ['a', b1Answers, 40]);
    assert.equal(b1Answers, 40, "b1, zone a's only pod, answered every connection from zone a");
    // (d) dropped on node, and the client's attempts all unanswered.
    assert.deepEqual(row('remote').noEndpoints, { mode: 'drop', nodes: [node] });
    assert.ok(evidence.results.remote.every((r) => r.answer === null));
    assert.ok(
      lines.some((l) => /lab\/remote:http: refused by kube-proxy \(drop on /.test(l)),
      lines.join('\n'),
    );
  });
}
