// Scenario grpc-long-lived: gRPC channels opened before the agents, then two endpoints added. By the servers' own logs
// the new pods get no call after the change; stickyscope must show them with 0 open connections, the old pods with
// exactly the channels the servers saw, and every open connection predating the new endpoints. With the node's byte
// counters off (nf_conntrack_acct 0, many kernels' default) the open connections count the same, and bytes say so.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { splitHostPort } from '../../src/lab/ip-family.js';
import { requireRoot } from '../helpers/env.js';
import { podOfAddress, runScenarioForTest, scenarioSetups } from '../helpers/scenario-run.js';
import { GRPC, grpcLongLived } from '../../src/scenarios/grpc-long-lived.js';
import type { ScenarioSetup } from '../../src/scenarios/index.js';

/** The run, checked against the servers' logs; returns it for what a case checks beside. */
async function checkedRun(t: TestContext, setup: ScenarioSetup, byteCounters = true) {
  const run = await runScenarioForTest(t, grpcLongLived, 5000, setup, { byteCounters });
  const { report, evidence } = run;
  const s = report.services.find((x) => x.name === GRPC)!;
  assert.ok(s, `${GRPC} is in the report`);
  // Over IPv6 the channels are IPv6: every client each server saw.
  if (setup.family === 'IPv6')
    for (const c of evidence.calls) assert.ok(isIPv6(splitHostPort(c.peer)?.host ?? ''), `${c.backend}: ${c.peer}`);
  const after = evidence.calls.filter((c) => c.ts >= evidence.addedAt);
  assert.ok(after.length >= 3 * 20, `calls went on after the change: ${after.length}`);
  // Ground truth: the channels each server saw (one peer ip:port per channel), and no call on the new pods.
  const channels: Record<string, Set<string>> = {};
  for (const c of evidence.calls) {
    channels[c.backend] ??= new Set();
    channels[c.backend]!.add(c.peer);
  }
  for (const pod of evidence.added) assert.equal(channels[pod], undefined, `${pod} got no call`);
  const live = Object.fromEntries(s.backends.map((b) => [podOfAddress(b.backend), b.liveConnections]));
  for (const pod of ['b1', 'b2', 'b3', 'b4', 'b5'])
    assert.equal(live[pod], channels[pod]?.size ?? 0, `open connections on ${pod} = channels its server saw`);
  assert.equal(s.liveConnections, 3);
  assert.equal(s.selections, 0, 'the channels were open before tracing');
  assert.deepEqual(s.predatingConnections?.newestEndpoints.map(podOfAddress).sort(), evidence.added);
  assert.equal(s.predatingConnections?.text, '3 of 3 open connections predate the 2 newest endpoints');
  t.diagnostic(`open ${JSON.stringify(live)}`);
  return { ...run, s };
}

for (const { label, setup } of scenarioSetups) {
  test(`scenario grpc-long-lived (${label}): new endpoints get no call and 0 open connections`, {
    timeout: 150_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { s } = await checkedRun(t, setup);
    for (const b of s.backends) assert.equal(typeof b.bytes, 'number', `${b.backend}: bytes counted`);
  });
}

test('scenario grpc-long-lived with nf_conntrack_acct off: the same open connections, bytes unavailable', {
  timeout: 150_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const { report, s, lines } = await checkedRun(t, { proxyMode: 'iptables' }, false);
  assert.deepEqual(Object.values(report.liveSource?.bytes ?? {}), [false], 'the node said it counts no bytes');
  for (const b of s.backends) assert.equal(b.bytes, null, `${b.backend}: bytes unavailable, not 0`);
  assert.equal(s.loadSpread?.bytes, null);
  assert.ok(
    lines.some((l) => /bytes: unavailable \(nf_conntrack_acct is off/.test(l)),
    `the answer says why bytes are missing:\n${lines.join('\n')}`,
  );
});
