// Scenario kube-dns: dnsperf against dnsmasq pods, without and with affinity. The report's selections per pod must
// equal the node's conntrack entries per pod; dnsmasq must have logged exactly the queries dnsperf says completed; with
// affinity each client pod's queries all reach the one pod the report gives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { podOfAddress, reportByPod, runScenarioForTest, scenarioSetups, tally } from '../helpers/scenario-run.js';
import { kubeDns, PLAIN, SOCKETS, STICKY } from '../../src/scenarios/kube-dns.js';

const nonZero = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([, n]) => n > 0));

for (const { label, setup } of scenarioSetups) {
  test(`scenario kube-dns (${label}): selections = conntrack entries, queries = dnsperf completed, affinity per client pod`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { report, evidence } = await runScenarioForTest(t, kubeDns, 2000, setup);
    assert.equal(report.lostEvents, 0);
    assert.equal(evidence.runs.length, 2);
    for (const run of evidence.runs) {
      const clients = run.dnsperf.length;
      const sent = run.dnsperf.reduce((n, d) => n + d.sent, 0);
      const completed = run.dnsperf.reduce((n, d) => n + d.completed, 0);
      assert.ok(completed > 0 && completed >= sent * 0.99, `${run.service}: dnsperf completed ${completed} of ${sent}`);
      assert.equal(run.queries.length, completed, `${run.service}: dnsmasq logged what dnsperf says completed`);
      // Each dnsperf socket is one UDP flow: one conntrack entry, one selection.
      assert.equal(run.conntrack.length, clients * SOCKETS, `${run.service}: conntrack entries`);
      const s = report.services.find((x) => x.name === run.service);
      assert.ok(s, `${run.service} in the report`);
      assert.equal(s.selections, run.conntrack.length, `${run.service}: selections = conntrack entries`);
      assert.deepEqual(
        nonZero(reportByPod(s.backends)),
        tally(run.conntrack.map((e) => podOfAddress(e.backend))),
        `${run.service}: per pod`,
      );
      // Queries per client pod and pod, from dnsmasq, against the report's clients.
      for (const c of s.clients) {
        const logged = tally(run.queries.filter((q) => q.client === c.client).map((q) => q.pod));
        assert.deepEqual(
          Object.keys(logged),
          Object.keys(c.backends).map(podOfAddress).sort(),
          `${run.service} ${c.client}: pods in dnsmasq's log = pods in the report`,
        );
      }
      t.diagnostic(
        `${run.service}: entries ${JSON.stringify(tally(run.conntrack.map((e) => podOfAddress(e.backend))))}, queries ${JSON.stringify(tally(run.queries.map((q) => q.pod)))}, maxOverMean ${s.spread.maxOverMean}, chi2P ${s.spread.chi2P}`,
      );
    }
    const sticky = report.services.find((x) => x.name === STICKY)!;
    assert.equal(sticky.affinity.mode, 'ClientIP');
    assert.equal(sticky.clients.length, 10);
    for (const c of sticky.clients) {
      assert.equal(Object.keys(c.backends).length, 1, `${c.client}: every socket on one pod with affinity`);
      assert.equal(c.stickiness, 1);
    }
    assert.equal(sticky.affinityVerdicts.violation, 0);
    // The seed's claim under test: affinity does not merge conntrack entries.
    const plain = report.services.find((x) => x.name === PLAIN)!;
    assert.equal(plain.affinity.mode, 'None');
    assert.equal(evidence.runs[0]!.conntrack.length, evidence.runs[1]!.conntrack.length);
  });
}
