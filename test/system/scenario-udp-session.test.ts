// Scenario udp-session: steady UDP flows through a scale-up (endpoint added, conntrack flushed). For each flow the
// echoes say which pod answered and which source it saw before and after the flush, and the backends' logs must hold
// each of those; the report's udpContinuity per Service must count exactly those changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { runScenarioForTest, scenarioSetups } from '../helpers/scenario-run.js';
import { flowChanges, sentAt, udpSession, PLAIN, STICKY } from '../../src/scenarios/udp-session.js';

for (const { label, setup } of scenarioSetups) {
  test(`scenario udp-session (${label}): backendChanged and reflectiveChanged as the echoes and backend logs say`, {
    timeout: 90_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { report, evidence } = await runScenarioForTest(t, udpSession, 4000, setup);
    assert.equal(report.lostEvents, 0);
    const logged = new Set(evidence.backendLogs.filter((l) => l.proto === 'udp').map((l) => `${l.backend} ${l.peer}`));
    const changes = flowChanges(evidence.results, evidence.flush);
    assert.equal(changes.length, 10, 'five clients, two flows each, answered on both sides of the flush');
    for (const name of [STICKY, PLAIN]) {
      const expected = { replacements: 0, backendChanged: 0, reflectiveChanged: 0 };
      for (const f of changes.filter((x) => x.service === name)) {
        for (const r of [f.before, f.after])
          assert.ok(logged.has(`${r.answer} ${r.seen}`), `${f.client}: '${r.answer} ${r.seen}' is in the backend logs`);
        // One entry per side: every echo before the flush is alike, and every one after it.
        const rs = evidence.results.filter((r) => r.client === f.client && r.service === name && r.answer);
        assert.equal(
          new Set(rs.filter((r) => sentAt(r) < evidence.flush.start).map((r) => `${r.answer} ${r.seen}`)).size,
          1,
          `${f.client} before`,
        );
        assert.equal(
          new Set(rs.filter((r) => sentAt(r) > evidence.flush.end).map((r) => `${r.answer} ${r.seen}`)).size,
          1,
          `${f.client} after`,
        );
        expected.replacements++;
        if (f.before.answer !== f.after.answer) expected.backendChanged++;
        if (f.before.seen !== f.after.seen) expected.reflectiveChanged++;
      }
      const s = report.services.find((x) => x.name === name);
      assert.ok(s?.udpContinuity, `${name} has udpContinuity`);
      assert.deepEqual(s.udpContinuity, expected, name);
      t.diagnostic(`${name}: ${JSON.stringify(expected)}`);
    }
    // The finding: affinity kept every pod; the masquerade gave the external clients new addresses anyway.
    const sticky = report.services.find((x) => x.name === STICKY)!.udpContinuity!;
    assert.equal(sticky.backendChanged, 0);
    assert.ok(
      sticky.reflectiveChanged >= 2,
      `external clients got new reflective addresses: ${sticky.reflectiveChanged}`,
    );
    // (A pod client is not masqueraded, yet may get a new port too: a reply in flight at the
    // flush makes an entry of its own from the pod, and the client's new entry must not clash with it.)
  });
}
