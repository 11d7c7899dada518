// Scenario keepalive --late-start: the routers' keep-alive connections exist before the agents start. stickyscope sees
// no selection, and must still say which pod is idle and where the open connections and bytes are, as the backends'
// logs (who accepted each connection) and the node's `conntrack -L` (bytes per entry) say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { podOfAddress, runScenarioForTest, scenarioSetups, tally } from '../helpers/scenario-run.js';
import { keepalive, KEEPALIVE } from '../../src/scenarios/keepalive.js';

for (const { label, setup } of scenarioSetups) {
  test(`scenario keepalive --late-start (${label}): open connections and bytes per pod from a late start`, {
    timeout: 150_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { report, evidence } = await runScenarioForTest(t, keepalive, 6000, setup, { lateStart: true });
    const late = evidence.late!;
    assert.ok(late, 'the late phase ran');
    const s = report.services.find((x) => x.name === KEEPALIVE)!;
    assert.ok(s, `${KEEPALIVE} is in the report`);
    assert.equal(s.selections, 0, 'the connections were open before tracing: no selection');
    // Ground truth: the backends logged one line per accepted connection since the routers started.
    const logged = tally(
      late.backendLogs.filter((l) => l.proto === 'tcp' && l.ts >= late.startedAt).map((l) => l.backend),
    );
    assert.equal(
      Object.values(logged).reduce((a, b) => a + b, 0),
      3,
      `three keep-alive connections logged: ${JSON.stringify(logged)}`,
    );
    assert.equal(s.liveConnections, 3);
    const live = Object.fromEntries(s.backends.map((b) => [podOfAddress(b.backend), b.liveConnections ?? -1]));
    for (const pod of ['b1', 'b2', 'b3']) assert.equal(live[pod], logged[pod] ?? 0, `open connections on ${pod}`);
    // The node's own table at the end: bytes per pod. The report counts bytes since tracing began, so pods rank alike
    // and an idle pod has none in both.
    const table: Record<string, number> = {};
    for (const e of late.conntrack) table[podOfAddress(e.backend)] = (table[podOfAddress(e.backend)] ?? 0) + e.bytes;
    const bytes = Object.fromEntries(s.backends.map((b) => [podOfAddress(b.backend), b.bytes ?? 0]));
    for (const pod of ['b1', 'b2', 'b3']) {
      assert.equal((bytes[pod] ?? 0) > 0, (logged[pod] ?? 0) > 0, `bytes on ${pod} exactly where connections are`);
      assert.equal((table[pod] ?? 0) > 0, (logged[pod] ?? 0) > 0, `conntrack bytes on ${pod}`);
    }
    // Bytes per pod follow connections per pod: the one with two of three carries about two thirds.
    const total = Object.values(bytes).reduce((a, b) => a + b, 0);
    for (const pod of ['b1', 'b2', 'b3'])
      assert.ok(
        Math.abs(bytes[pod]! / total - (logged[pod] ?? 0) / 3) < 0.1,
        `${pod}: ${bytes[pod]} of ${total} bytes`,
      );
    t.diagnostic(`open ${JSON.stringify(live)}, bytes ${JSON.stringify(bytes)}, conntrack ${JSON.stringify(table)}`);
  });
}
