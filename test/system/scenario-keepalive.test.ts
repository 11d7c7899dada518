// Scenario keepalive: 3 routers with curl keep-alive, then Connection: close. The report must count one selection per
// connection, as the backends logged them: 3 with keep-alive (each router's requests all on one pod, idle pods idle in
// the report too), one per request without, spread over every pod.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import {
  connectionLines,
  podOfAddress,
  reportByPod,
  runScenarioForTest,
  scenarioSetups,
  tally,
} from '../helpers/scenario-run.js';
import { keepalive, KEEPALIVE, CLOSE } from '../../src/scenarios/keepalive.js';
import type { CurlAnswer } from '../../src/scenarios/netns-tools.js';
import type { BackendLogLine } from '../../src/lab/traffic-types.js';

const nonZero = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([, n]) => n > 0));

for (const { label, setup } of scenarioSetups) {
  test(`scenario keepalive (${label}): selections are connections; keep-alive pins each router to one pod`, {
    timeout: 90_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { report, evidence } = await runScenarioForTest(t, keepalive, 3000, setup);
    assert.equal(report.lostEvents, 0);
    const [ka, close] = evidence.phases;
    assert.ok(ka && close, 'both phases ran');
    assert.equal(close.startedAt > ka.startedAt, true);

    for (const p of [ka, close]) {
      const answers: CurlAnswer[] = Object.values(p.answers).flat();
      assert.ok(answers.length >= 3 * 50, `${p.service}: curl got ${answers.length} answers`);
      // Ground truth: the connections the backends logged from this phase's client sockets.
      const lineOf: Map<CurlAnswer, BackendLogLine> = connectionLines(
        answers,
        evidence.backendLogs.filter(
          (l) => l.proto === 'tcp' && (p === ka ? l.ts < close.startedAt : l.ts >= close.startedAt),
        ),
      );
      // Every answer came from the pod its connection reached.
      for (const a of answers) assert.equal(a.pod, lineOf.get(a)!.backend, `${a.local} answered by ${a.pod}`);
      const logged = [...new Set(lineOf.values())].map((l) => l.backend);
      assert.equal(logged.length, p === ka ? 3 : answers.length, `${p.service}: connections logged`);
      const s = report.services.find((x) => x.name === p.service);
      assert.ok(s, `${p.service} is in the report`);
      assert.deepEqual(
        nonZero(reportByPod(s.backends)),
        tally(logged),
        `${p.service}: selections per pod = connections per pod in the backend logs`,
      );
      assert.equal(s.backends.length, 3, 'every endpoint is listed, idle ones too');
      // Bytes (the node's conntrack accounting) follow connections: no bytes for a pod without one.
      const withBytes = new Set(p.conntrack.filter((e) => e.bytes > 0).map((e) => podOfAddress(e.backend)));
      assert.deepEqual([...withBytes].sort(), Object.keys(tally(logged)));
      t.diagnostic(
        `${p.service}: connections ${JSON.stringify(tally(logged))}, requests ${JSON.stringify(tally(answers.map((a) => a.pod)))}`,
      );
    }

    const sk = report.services.find((x) => x.name === KEEPALIVE)!;
    assert.equal(sk.selections, 3, 'one selection per router with keep-alive');
    for (const c of sk.clients) assert.equal(c.selections, 1, `${c.client}: one connection`);
    const idle = sk.backends.filter((b) => b.selections === 0).length;
    const used = new Set(
      Object.values(ka.answers)
        .flat()
        .map((a) => a.pod),
    ).size;
    assert.equal(idle, 3 - used, 'pods idle in the report are the pods no request reached');

    const sc = report.services.find((x) => x.name === CLOSE)!;
    const closeAnswers = Object.values(close.answers).flat();
    assert.ok(
      closeAnswers.every((a) => a.connects === 1),
      'Connection: close made curl connect for every request',
    );
    assert.equal(sc.selections, closeAnswers.length, 'one selection per request without keep-alive');
    assert.ok(
      sc.backends.every((b) => b.selections > 0),
      'no idle pod without keep-alive',
    );
    assert.ok(sc.spread.maxOverMean! < 1.5, `even spread without keep-alive: maxOverMean ${sc.spread.maxOverMean}`);
  });
}
