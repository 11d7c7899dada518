// Scenario affinity-overflow: 3 x capacity + 30 client addresses, two rounds within the timeout. The backends' logs say
// which addresses moved between the rounds; the xt_recent lists (iptables) or affinity sets (nftables) read between them
// say which were not held. Each move must be a violation with cause listFull (setFull), and only those may move.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { runScenarioForTest, scenarioSetups } from '../helpers/scenario-run.js';
import { affinityOverflow, STICKY } from '../../src/scenarios/affinity-overflow.js';
import type { BackendLogLine, ClientResult } from '../../src/lab/traffic-types.js';
import { splitHostPort } from '../../src/lab/ip-family.js';

/** Source address -> pod for one round, joining each answer to its log line by socket. */
function podsOf(results: ClientResult[], logs: BackendLogLine[]): Map<string, string> {
  const byPeer = new Map(logs.map((l) => [l.peer, l]));
  const out = new Map<string, string>();
  for (const r of results) {
    const line = byPeer.get(r.local);
    assert.ok(
      line && line.backend === r.answer,
      `${r.local}: answered ${r.answer ?? r.error}, logged ${line?.backend}`,
    );
    out.set(splitHostPort(r.local)!.host, line.backend);
  }
  return out;
}

for (const { label, setup } of scenarioSetups) {
  // A full xt_recent list evicts its oldest client; a full nftables set takes no new one.
  const cause = setup.proxyMode === 'nftables' ? 'setFull' : 'listFull';
  test(`scenario affinity-overflow (${label}): moves between rounds are violations with cause ${cause}`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { report, evidence } = await runScenarioForTest(t, affinityOverflow, 1000, setup);
    const n = evidence.round1.length;
    assert.equal(n, 3 * evidence.capacity + 30);
    assert.equal(evidence.round2.length, n);
    const logs = evidence.backendLogs.filter((l) => l.proto === 'tcp');
    const split = evidence.round2.map((r) => r.ts).sort()[0]!;
    // Round 2's sockets may reuse round 1's ports: join each round to its own log lines.
    const last1 = evidence.round1
      .map((r) => r.ts)
      .sort()
      .at(-1)!;
    const first = podsOf(
      evidence.round1,
      logs.filter((l) => l.ts <= last1),
    );
    const second = podsOf(
      evidence.round2,
      logs.filter((l) => l.ts > last1),
    );
    assert.ok(split > last1);
    for (const [pod, pinned] of Object.entries(evidence.pinnedBefore))
      assert.ok(pinned.length <= evidence.capacity, `${pod} holds ${pinned.length} of ${evidence.capacity}`);
    const listed = new Set(Object.values(evidence.pinnedBefore).flat());
    const evicted = [...first.keys()].filter((ip) => !listed.has(ip));
    const moved = [...first].filter(([ip, pod]) => second.get(ip) !== pod).map(([ip]) => ip);
    assert.ok(evicted.length >= 30, `at least the overflow was evicted: ${evicted.length}`);
    assert.ok(moved.length >= 1, 'some evicted address was re-picked elsewhere');
    for (const ip of moved) assert.ok(evicted.includes(ip), `${ip} moved but was still listed`);

    const s = report.services.find((x) => x.name === STICKY);
    assert.ok(s, `${STICKY} in the report`);
    assert.equal(s.selections, 2 * n);
    assert.equal(s.affinityVerdicts.violation, moved.length, 'one violation per address the logs show moved');
    assert.deepEqual(s.affinityVerdicts.violationCauses, {
      listFull: cause === 'listFull' ? moved.length : 0,
      setFull: cause === 'setFull' ? moved.length : 0,
      crossFrontend: 0,
      unknown: 0,
    });
    assert.equal(s.affinityVerdicts.held, n - moved.length);
    assert.deepEqual(
      s.clients
        .filter((c) => Object.keys(c.backends).length === 2)
        .map((c) => c.client)
        .sort(),
      [...moved].sort(),
    );
    // The report's first finding about the Service names the cause the logs and lists prove, with its next step.
    const finding = report.findings?.find((f) => f.service === STICKY);
    assert.deepEqual(
      finding && { kind: finding.kind, cause: finding.cause, count: finding.count },
      { kind: 'violations', cause, count: moved.length },
      `findings: ${JSON.stringify(report.findings)}`,
    );
    assert.match(finding!.next, cause === 'listFull' ? /ip_list_tot/ : /timeoutSeconds/);
    t.diagnostic(`evicted ${evicted.length}, moved ${moved.length}`);
  });
}
