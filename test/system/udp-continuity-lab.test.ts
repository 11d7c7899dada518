// Issue 3, UDP continuity in the lab: a pod client's and a masqueraded external client's long-lived UDP flows, their
// conntrack entries deleted mid-flow after the pod client's backend left; udpContinuity must say backendChanged /
// reflectiveChanged exactly where the backends' logs and the echo each client got back say the flow changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents, startReportCli } from '../helpers/agents.js';
import { defaultConfig, readBackendLogs, runClient, setEndpoints, type BackendLogLine } from '../../src/lab/lab.js';
import { NotYet, waitFor } from '../helpers/wait.js';

const DNS = 'lab/dns:dns';

test('UDP flows after conntrack -D: backendChanged and reflectiveChanged where the backend logs say so', {
  timeout: 120_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const config = defaultConfig({ nodes: 2 });
  config.clients = 1;
  config.externalClients = 1;
  config.services = config.services.filter((s) => s.protocol === 'udp');
  const { lab, agents } = await startLabWithAgents(t, config);
  const report = await startReportCli(t, agents);
  const c1 = lab.clients.find((c) => c.name === 'c1')!;

  const plan = { service: DNS, mode: 'udp-flow', count: 70, intervalMs: 50, timeoutMs: 500 } as const;
  const flows = Promise.all([runClient(lab, 'c1', plan), runClient(lab, 'x1', plan)]);
  const isC1 = (l: BackendLogLine) => l.peer.startsWith(`${c1.ip}:`);
  // Both flows well under way before the flush (the checks below want more than 5 datagrams on each side of it).
  const udpLogs = async () => (await readBackendLogs(lab)).filter((l) => l.proto === 'udp');
  const first = await waitFor(
    'both clients to have 8 datagrams logged',
    async () => {
      const logs = await udpLogs();
      const c1Lines = logs.filter(isC1);
      const seen = [c1Lines.length, logs.length - c1Lines.length];
      return (seen.every((n) => n >= 8) && c1Lines[0]) || new NotYet(seen, [8, 8]);
    },
    10_000,
    100,
  );
  // The pod client's backend leaves; its established flow keeps it until the entry goes.
  const dns = lab.services.find((s) => s.serviceName === DNS)!;
  await setEndpoints(
    lab,
    DNS,
    dns.endpoints.filter((e) => e.pod !== first.backend),
  );
  // A datagram logged while conntrack -D ran may be on either side of the deletion: only those before its start and
  // after its end are sorted (CI once saw c1's "before" hold b1 and b2: a datagram of the new entry, logged before
  // the end was taken).
  const deleting = new Date().toISOString();
  const out = execFileSync(
    'ip',
    ['netns', 'exec', lab.nodes[0]!, 'conntrack', '-D', '-p', 'udp', '--orig-dst', dns.clusterIP],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const deletedAt = new Date().toISOString();
  const [c1Results, x1Results] = await flows;
  // One dnat per conntrack entry: each client's flow before the flush and after it (checked from the logs below).
  await report.waitForDnat(2 * 2);
  const r = await report.finish();
  t.diagnostic(`conntrack -D: ${out.trim() || '(no output)'}`);

  const logs = (await readBackendLogs(lab)).filter((l) => l.proto === 'udp');
  const expected = { replacements: 0, backendChanged: 0, reflectiveChanged: 0 };
  for (const [name, results, mine] of [
    ['c1', c1Results, logs.filter(isC1)],
    ['x1', x1Results, logs.filter((l) => !isC1(l))],
  ] as const) {
    // The echo carries what the backend saw: the client's view and the logs must agree.
    const answered = results.filter((x) => x.answer);
    assert.ok(answered.length >= plan.count - 3, `${name}: ${answered.length} of ${plan.count} datagrams answered`);
    const logged = new Set(mine.map((l) => `${l.backend} ${l.peer}`));
    for (const x of answered)
      assert.ok(
        logged.has(`${x.answer} ${x.seen}`),
        `${name}: answer '${x.answer} ${x.seen}' is in the backend logs (${[...logged]})`,
      );
    const before = mine.filter((l) => l.ts < deleting);
    const after = mine.filter((l) => l.ts > deletedAt);
    assert.ok(
      before.length > 5 && after.length > 5,
      `${name}: datagrams on both sides of the flush (${before.length}, ${after.length})`,
    );
    // One entry before the flush and one after: each side is constant in the logs.
    assert.equal(
      new Set(before.map((l) => `${l.backend} ${l.peer}`)).size,
      1,
      `${name} before: ${[...new Set(before.map((l) => `${l.backend} ${l.peer}`))]}`,
    );
    assert.equal(
      new Set(after.map((l) => `${l.backend} ${l.peer}`)).size,
      1,
      `${name} after: ${[...new Set(after.map((l) => `${l.backend} ${l.peer}`))]}`,
    );
    expected.replacements++;
    if (before[0]!.backend !== after[0]!.backend) expected.backendChanged++;
    if (before[0]!.peer !== after[0]!.peer) expected.reflectiveChanged++;
    t.diagnostic(`${name}: ${before[0]!.backend} saw ${before[0]!.peer} -> ${after[0]!.backend} saw ${after[0]!.peer}`);
  }
  // The pod client's backend was removed, so it had to move; it is not masqueraded, so what the backend sees stays.
  assert.ok(expected.backendChanged >= 1 && expected.reflectiveChanged >= 1, JSON.stringify(expected));
  const s = r.services.find((x) => x.name === DNS);
  assert.ok(s?.udpContinuity, `report has ${DNS} with udpContinuity`);
  assert.deepEqual(s.udpContinuity, expected);
  assert.equal(r.lostEvents, 0);
});
