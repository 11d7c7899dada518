// Issue 5's lab check: `record` on an agent on a lab node under every kind of traffic, Ctrl-C, then `export` compared
// with the backends' logs connection by connection, and `report FILE` with a live `report --agent` of the same run and
// with figures computed from the clients' own logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { labDown, labUp, readBackendLogs, runClient, type ClientResult, type Lab } from '../../src/lab/lab.js';
import type { StickyEvent } from '../../src/core/event.js';
import type { Report } from '../../src/report/types.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { runCli, startCli, type CliRun } from '../helpers/cli.js';
import { startAgents, type LabAgents } from '../helpers/agents.js';
import { waitFor } from '../helpers/wait.js';

interface JsonEvent {
  type: string;
  ts: string;
  proto: string;
  client: string;
  service: string;
  backend: string;
  ctId: string;
  snat?: string;
  count?: number;
}

/** Window of both reports: longer than the run, so both cover every event. */
const WINDOW = '5m';

const multiset = (keys: string[]) => [...keys].sort();

async function stopCli(run: CliRun | undefined): Promise<void> {
  if (!run) return;
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  await run.exit;
}

/** One entry per connection (TCP) or socket (UDP) a client made: what the dnat events must be. */
function connections(results: ClientResult[]): ClientResult[] {
  const seen = new Map<string, ClientResult>();
  for (const r of results) {
    // A client port can come back on a later connection: the run and its connection index name one.
    const key = `${r.client} ${r.service} ${r.mode} ${r.conn}`;
    const first = seen.get(key);
    assert.ok(
      !first || first.answer === r.answer,
      `one connection answered by two backends: ${JSON.stringify([first, r])}`,
    );
    if (!first) seen.set(key, r);
  }
  return [...seen.values()];
}

/** The report figures the clients' logs imply: selections per backend and affinity verdicts per service. */
function expectedFromClients(lab: Lab, conns: ClientResult[]) {
  const ipOf = new Map(lab.backends.map((b) => [b.name, b.ip]));
  const out = new Map<
    string,
    { backends: Record<string, number>; clients: Set<string>; held: number; moved: number }
  >();
  const sorted = [...conns].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  const last = new Map<string, { backend: string; ts: number }>();
  for (const c of sorted) {
    const svc = lab.services.find((s) => `${s.clusterIP}:${s.port}` === c.target)!;
    const key = `${c.target}/${c.proto}`;
    const backend = `${ipOf.get(c.answer!)}:${svc.endpoints[0]!.port}`;
    const e = out.get(key) ?? { backends: {}, clients: new Set<string>(), held: 0, moved: 0 };
    out.set(key, e);
    e.backends[backend] = (e.backends[backend] ?? 0) + 1;
    const ip = lab.clients.find((x) => x.name === c.client)!.ip;
    e.clients.add(ip);
    const prev = last.get(`${key} ${ip}`);
    if (prev) {
      if (prev.backend === backend) e.held++;
      else e.moved++;
    }
    last.set(`${key} ${ip}`, { backend, ts: Date.parse(c.ts) });
  }
  return out;
}

test('record on the lab: export matches the backends event by event; report FILE equals the live report', {
  timeout: 90_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-record-`));
  // Registered first, so it runs first (after hooks run in order): whatever uses the lab stops before the lab goes.
  const stopTraffic = new AbortController();
  let traffic: Promise<unknown> | undefined;
  let agents: LabAgents | undefined;
  let rec: CliRun | undefined;
  let live: CliRun | undefined;
  let watch: AgentConnection | undefined;
  t.after(async () => {
    stopTraffic.abort();
    await traffic?.catch(() => {});
    await Promise.all([stopCli(rec), stopCli(live), watch?.stop()]);
    await agents?.stopAll();
    await labDown(prefix);
    rmSync(dir, { recursive: true, force: true });
  });
  const lab = await labUp({ prefix });
  agents = await startAgents(t, lab, [0]);
  const address = agents.addresses()[0]!;
  const trace = join(dir, 'lab.trace');

  // The recording and the live report, both subscribed before any traffic.
  rec = startCli(['record', '--agent', address, '-w', trace, ...agents.clientArgs()]);
  live = startCli([
    'report',
    '--agent',
    address,
    '--duration',
    '60s',
    '--format',
    'json',
    '--window',
    WINDOW,
    ...agents.clientArgs(),
  ]);
  const up = new RegExp(`agent ${address.replace(/\./g, '\\.')} \\(${lab.nodes[0]}\\) up`);
  await Promise.all([rec.waitFor(up), live.waitFor(up)]);
  // A third subscriber only to see the agent's once-a-second counters go by: both are
  // stopped just after one, so both have seen the same last event.
  const ticks: number[] = [];
  watch = new AgentConnection(address, {}, undefined, undefined, agents.link(0));
  watch.on('events', (events: StickyEvent[]) => {
    if (events.some((e) => e.type === 'counters')) ticks.push(Date.now());
  });

  const pods = lab.clients.filter((c) => !c.external);
  const external = lab.clients.find((c) => c.external)!;
  // One run per (Service, client): each client's picks on a Service happen in a known order.
  const [c1, c2, c3] = pods as [typeof external, typeof external, typeof external];
  const runs: Promise<ClientResult[]>[] = [
    runClient(
      lab,
      c1.name,
      { service: 'lab/web:http', mode: 'keepalive', count: 12, perConnection: 4 },
      stopTraffic.signal,
    ),
    runClient(lab, c2.name, { service: 'lab/web:http', mode: 'http', count: 12 }, stopTraffic.signal),
    runClient(lab, c3.name, { service: 'lab/web:http', mode: 'http', count: 12 }, stopTraffic.signal),
    runClient(lab, external.name, { service: 'lab/web:http', mode: 'http', count: 8 }, stopTraffic.signal),
    runClient(lab, external.name, { service: 'lab/dns:dns', mode: 'udp-sessions', count: 4 }, stopTraffic.signal),
  ];
  for (const c of pods) {
    runs.push(
      runClient(
        lab,
        c.name,
        { service: 'lab/sticky:http', mode: 'http', count: 8, intervalMs: 20 },
        stopTraffic.signal,
      ),
    );
    runs.push(runClient(lab, c.name, { service: 'lab/dns:dns', mode: 'udp-sessions', count: 8 }, stopTraffic.signal));
  }
  traffic = Promise.allSettled(runs);
  const results = (await Promise.all(runs)).flat();
  assert.deepEqual(
    results.filter((r) => r.answer === null),
    [],
    'every request is answered',
  );
  const conns = connections(results);

  const trafficEnded = Date.now();
  // Sent to every subscriber at once: record and the live report have it too, and the next is a second away.
  await waitFor('a counters event after the traffic', () => ticks.some((at) => at > trafficEnded + 300), 5000);
  rec.child.kill('SIGINT');
  live.child.kill('SIGINT');
  const [recExit, liveExit] = await Promise.all([rec.exit, live.exit]);
  assert.equal(recExit.code, 0, `record exits 0 on SIGINT: ${rec.stderr()}`);
  assert.equal(liveExit.code, 0, `live report exits 0 on SIGINT: ${live.stderr()}`);
  assert.match(rec.stderr(), /recorded \d+ events \(0 lost\)/);

  // Event by event against the backends: each dnat is one connection a backend logged,
  // reached from the address it saw (the snat event's, for the masqueraded client).
  const exported = await runCli(['export', trace, '--format', 'jsonl']);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(exported.stderr, '', 'the recording was closed cleanly (no warnings on reading it)');
  const events = exported.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JsonEvent);
  assert.deepEqual(
    events.filter((e) => e.type === 'lost'),
    [],
    'nothing lost',
  );
  const dnat = events.filter((e) => e.type === 'dnat');
  // A conntrack id names an entry, not a connection for all time: one was seen on two
  // connections of one run (1 in ~30 runs). So snat events are joined on the id and the
  // client address, in time order, and duplicates are ruled out by the one-to-one
  // match with the backends' lines below rather than by unique ids.
  const snats = events.filter((e) => e.type === 'snat');
  const snatOf = new Map<string, string[]>();
  for (const e of snats) snatOf.set(`${e.ctId} ${e.client}`, [...(snatOf.get(`${e.ctId} ${e.client}`) ?? []), e.snat!]);
  const logs = await readBackendLogs(lab);
  assert.equal(logs.length, conns.length, 'the backends logged one line per connection the clients made');
  assert.equal(dnat.length, logs.length, 'as many dnat events as backend log lines');
  assert.equal(
    snats.length,
    conns.filter((c) => c.client === external.name).length,
    'one snat per masqueraded connection',
  );
  const unmatched = [...logs];
  for (const e of dnat) {
    const seenAs = snatOf.get(`${e.ctId} ${e.client}`)?.shift() ?? e.client;
    // A reused client port can make two candidates: the nearest in time is this one.
    let i = -1;
    for (const [k, l] of unmatched.entries()) {
      if (l.proto !== e.proto || l.peer !== seenAs || l.local !== e.backend) continue;
      if (
        i < 0 ||
        Math.abs(Date.parse(l.ts) - Date.parse(e.ts)) < Math.abs(Date.parse(unmatched[i]!.ts) - Date.parse(e.ts))
      )
        i = k;
    }
    assert.ok(i >= 0, `no backend logged the dnat event ${JSON.stringify(e)}`);
    const [line] = unmatched.splice(i, 1);
    const skewMs = Date.parse(line!.ts) - Date.parse(e.ts);
    assert.ok(skewMs > -50 && skewMs < 1000, `the backend logged ${seenAs} ${skewMs} ms after the dnat event`);
  }
  assert.deepEqual(unmatched, [], 'every backend log line has its dnat event');
  assert.deepEqual(
    multiset(dnat.map((e) => `${e.proto} ${e.client} ${e.service}`)),
    multiset(conns.map((c) => `${c.proto} ${c.local} ${c.target}`)),
    'each dnat event is a connection a client made, to the Service it dialled',
  );

  // The file's report equals the live one, every field including the window; and both
  // agree with what the clients' logs imply.
  const fromFile = await runCli(['report', trace, '--format', 'json', '--window', WINDOW]);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  // Identical but for when each recording began and ended (the recorder's and the live reporter's own times), and
  // the command line each report states.
  const unrecorded = (json: string) => ({
    ...JSON.parse(json),
    command: null,
    window: { ...JSON.parse(json).window, recording: null },
  });
  assert.deepEqual(
    unrecorded(fromFile.stdout),
    unrecorded(live.stdout()),
    'report FILE and the live report are identical',
  );
  const report = JSON.parse(fromFile.stdout) as Report;
  // The span reported is that of the connections counted, by the backends' own clocks (within 1 s).
  const logged = logs.map((l) => Date.parse(l.ts)).sort((a, b) => a - b);
  for (const [end, at, log] of [
    ['start', report.window.start, logged[0]!],
    ['end', report.window.end, logged.at(-1)!],
  ] as const)
    assert.ok(
      Math.abs(Date.parse(at) - log) < 1000,
      `window.${end} ${at} is the ${end} of the backends' logs, ${new Date(log).toISOString()}`,
    );
  assert.equal(report.lostEvents, 0);
  assert.deepEqual(report.nodes, [lab.nodes[0]]);
  const expected = expectedFromClients(lab, conns);
  for (const [key, want] of expected) {
    const svc = report.services.find((s) => s.service === key);
    assert.ok(svc, `the report has ${key}`);
    const sent = Object.values(want.backends).reduce((a, b) => a + b, 0);
    assert.equal(svc.selections, sent, `${key} selections`);
    assert.deepEqual(
      Object.fromEntries(svc.backends.filter((b) => b.selections > 0).map((b) => [b.backend, b.selections])),
      want.backends,
      `${key} per backend`,
    );
    assert.deepEqual(svc.clients.map((c) => c.client).sort(), [...want.clients].sort(), `${key} clients`);
    assert.equal(svc.stickiness.pairs, want.held + want.moved, `${key} pairs`);
    assert.equal(svc.stickiness.sameBackend, want.held, `${key} same-backend pairs`);
    if (svc.affinity.mode === 'ClientIP') {
      assert.equal(svc.affinityVerdicts.violation, want.moved, `${key}: every move within the timeout is a violation`);
      assert.equal(svc.affinityVerdicts.held, want.held, `${key} held`);
    }
  }
  assert.equal(
    report.services.reduce((n, s) => n + s.selections, 0),
    conns.length,
  );
  const sticky = report.services.find((s) => s.name === 'lab/sticky:http')!;
  assert.deepEqual(sticky.affinity, { mode: 'ClientIP', timeoutSeconds: 10, source: 'rules' });
  await agents.stopAll();
});
