// Scenario affinity-timeout: ClientIP with timeoutSeconds 5, curl with 1 s and 7 s
// pauses. Against the backend logs: every pair within 5 s is held, every pair across a
// long pause is expired, and the expired pairs that moved are the ones the logs show moving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { connectionLines, runScenarioForTest, scenarioSetups } from '../helpers/scenario-run.js';
import { affinityTimeout, SAMPLE, TIMEOUT_SECONDS } from '../../src/scenarios/affinity-timeout.js';

for (const { label, setup } of scenarioSetups) {
  test(`scenario affinity-timeout (${label}): held within 5 s, expired re-picks after, as the backends logged them`, {
    timeout: 90_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { report, evidence } = await runScenarioForTest(t, affinityTimeout, 20_000, setup);
    const { answers } = evidence;
    assert.equal(answers.length, 6, 'two bursts of three requests');
    const lineOf = connectionLines(
      answers,
      evidence.backendLogs.filter((l) => l.proto === 'tcp'),
    );
    const pods = answers.map((a) => {
      assert.equal(lineOf.get(a)!.backend, a.pod, `${a.local}: curl's answer is the pod that logged it`);
      return a.pod;
    });
    let held = 0;
    let expired = 0;
    let moved = 0;
    for (let i = 1; i < answers.length; i++) {
      const pause = answers[i]!.pauseMs!;
      if (pause < TIMEOUT_SECONDS * 1000) {
        assert.equal(pods[i], pods[i - 1], `request ${i} after ${pause} ms kept its pod`);
        held++;
      } else {
        expired++;
        if (pods[i] !== pods[i - 1]) moved++;
      }
    }
    const s = report.services.find((x) => x.name === SAMPLE);
    assert.ok(s, `${SAMPLE} in the report`);
    assert.deepEqual(s.affinity, { mode: 'ClientIP', timeoutSeconds: TIMEOUT_SECONDS, source: 'rules' });
    const v = s.affinityVerdicts;
    assert.deepEqual(
      {
        held: v.held,
        violation: v.violation,
        forcedRepick: v.forcedRepick,
        expired: v.expired,
        expiredMoved: v.expiredMoved,
      },
      { held, violation: 0, forcedRepick: 0, expired, expiredMoved: moved },
    );
    assert.equal(v.compliance, 1);
    t.diagnostic(`pods in order: ${pods.join(' ')}; held ${held}, expired ${expired} (moved ${moved})`);
  });
}
