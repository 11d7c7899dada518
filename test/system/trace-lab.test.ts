// Issue 2's end-to-end check: `stickyscope trace` on the lab node, real traffic through
// every kind of Service, compared with two independent ground truths: the backends'
// own logs (and the clients' logs) and `conntrack -E -e NEW` in the node namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUp, labDown, runClient, readBackendLogs, type Lab, type ClientResult } from '../../src/lab/lab.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { startCli } from '../helpers/cli.js';
import { watchConntrack } from '../helpers/conntrack-events.js';

interface JsonEvent {
  type: string;
  ts: string;
  node: string;
  proto: string;
  client: string;
  service: string;
  backend: string;
  hook: string;
  snat?: string;
  ctId: string;
}

/** Multiset of keys, sorted, so two lists compare with deepEqual and a diff shows what differs. */
const multiset = (keys: string[]) => [...keys].sort();

test('trace prints exactly one dnat event per new connection, equal to the backends and conntrack -E', async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  t.after(() => labDown(prefix));
  const lab: Lab = await labUp({ prefix });
  const node = lab.nodes[0]!;

  const conntrack = await watchConntrack(node);
  t.after(() => conntrack.kill());
  const trace = startCli(['trace', '--netns', lab.nodeNetnsPath(0), '--format', 'jsonl', '--node-name', node]);
  t.after(() => {
    if (trace.child.exitCode === null) trace.child.kill('SIGKILL');
  });
  await trace.waitFor(/tracing/);

  const pods = lab.clients.filter((c) => !c.external);
  const external = lab.clients.find((c) => c.external)!;
  const runs: Promise<ClientResult[]>[] = [];
  for (const c of pods) {
    runs.push(runClient(lab, c.name, { service: 'lab/web', mode: 'http', count: 15 }));
    runs.push(runClient(lab, c.name, { service: 'lab/sticky', mode: 'http', count: 10 }));
    runs.push(runClient(lab, c.name, { service: 'lab/dns', mode: 'udp-sessions', count: 10 }));
  }
  runs.push(runClient(lab, external.name, { service: 'lab/web', mode: 'http', count: 8 }));
  runs.push(runClient(lab, external.name, { service: 'lab/dns', mode: 'udp-sessions', count: 4 }));
  const results = (await Promise.all(runs)).flat();
  const failed = results.filter((r) => r.answer === null);
  assert.equal(failed.length, 0, `every request should be answered: ${JSON.stringify(failed.slice(0, 3))}`);

  const truth = await conntrack.stop(results.length);
  trace.child.kill('SIGINT');
  const { code } = await trace.exit;
  assert.equal(code, 0, `trace should exit 0 on SIGINT; stderr: ${trace.stderr()}`);

  const events = trace
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JsonEvent);
  const serviceAddrs = new Set(lab.services.map((s) => `${s.clusterIP}:${s.port}`));
  const dnat = events.filter((e) => e.type === 'dnat');
  assert.ok(
    dnat.every((e) => serviceAddrs.has(e.service)),
    'only the lab services were translated',
  );
  assert.ok(dnat.every((e) => e.node === node && e.hook === 'prerouting' && /^\d{4}-\d\d-\d\dT.*\.\d{6}Z$/.test(e.ts)));

  // One event per connection: as many as the clients made, each conntrack entry once.
  assert.equal(dnat.length, results.length, 'one dnat event per connection the clients made');
  assert.equal(new Set(dnat.map((e) => e.ctId)).size, dnat.length, 'no conntrack entry reported twice');

  // Ground truth 1: the clients' logs (their own address, the Service they dialled) ...
  assert.deepEqual(
    multiset(dnat.map((e) => `${e.proto} ${e.client} ${e.service}`)),
    multiset(results.map((r) => `${r.proto} ${r.local} ${r.target}`)),
  );
  // ... and the backends' logs (who reached which backend address). Masqueraded
  // connections are matched through the address the backend saw (the snat event).
  const logs = await readBackendLogs(lab);
  const snatByCt = new Map(events.filter((e) => e.type === 'snat').map((e) => [e.ctId, e.snat!]));
  assert.deepEqual(
    multiset(dnat.map((e) => `${e.proto} ${snatByCt.get(e.ctId) ?? e.client} ${e.backend}`)),
    multiset(logs.map((l) => `${l.proto} ${l.peer} ${l.local}`)),
  );
  // Ground truth 2: conntrack -E -e NEW in the node namespace.
  const translated = truth.filter((c) => serviceAddrs.has(c.service));
  assert.deepEqual(
    multiset(dnat.map((e) => `${e.proto} ${e.client} ${e.service} ${e.backend}`)),
    multiset(translated.map((c) => `${c.proto} ${c.client} ${c.service} ${c.backend}`)),
  );

  // snat: exactly the external client's connections, showing the source the backend saw.
  const snat = events.filter((e) => e.type === 'snat');
  const externalConns = results.filter((r) => r.client === external.name).length;
  assert.equal(snat.length, externalConns, 'every masqueraded connection has one snat event');
  assert.ok(snat.every((e) => e.client.startsWith(external.ip + ':') && !e.snat!.startsWith(external.ip + ':')));
  assert.deepEqual(
    multiset(snat.map((e) => e.snat!)),
    multiset(translated.filter((c) => c.client.startsWith(external.ip + ':')).map((c) => c.seenAs)),
  );
  const udpSeen = results.filter((r) => r.client === external.name && r.proto === 'udp').map((r) => r.seen);
  for (const seen of udpSeen)
    assert.ok(
      snat.some((e) => e.snat === seen),
      `the UDP echo's seen address ${seen} is a snat event`,
    );

  // Affinity: within the timeout a client keeps one backend; without affinity it spreads.
  const sticky = lab.services.find((s) => s.name === 'sticky')!;
  const web = lab.services.find((s) => s.name === 'web')!;
  for (const c of pods) {
    const mine = (svc: typeof sticky) =>
      dnat.filter((e) => e.client.startsWith(c.ip + ':') && e.service === `${svc.clusterIP}:${svc.port}`);
    const stickyBackends = new Set(mine(sticky).map((e) => e.backend));
    assert.equal(stickyBackends.size, 1, `${c.name} kept one backend on lab/sticky: ${[...stickyBackends]}`);
    const answered = new Set(
      results.filter((r) => r.client === c.name && r.service.includes('sticky')).map((r) => r.answer),
    );
    assert.equal(answered.size, 1, `the backends' answers agree: ${c.name} saw one sticky backend`);
    assert.ok(new Set(mine(web).map((e) => e.backend)).size >= 2, `${c.name} spread over lab/web's backends`);
  }
});
