// Live connections on a node without the lab: a namespace whose conntrack table is filled with conntrack(8) itself
// (translated entries made with --dst-nat), so the ground truth is the table as `conntrack -L` lists it. Bad input:
// accounting off, a node with no translated entry, and destroy messages lost under a flood, then put right by a sweep.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { startCli } from '../helpers/cli.js';
import { conntrackTable, isOpen } from '../helpers/conntrack-table.js';
import { NotYet, waitFor } from '../helpers/wait.js';
import { type ProbeOptions, startProbe } from '../../src/probe/probe.js';
import { floodPath } from '../../scripts/bench/flood.js';
import type { ConnEvent, LostEvent, StickyEvent, SweepEvent } from '../../src/core/event.js';

const inNs = (ns: string, ...args: string[]) =>
  execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A namespace with a NAT table (so entries can carry DNAT) and accounting as asked; removed at the end. */
function node(t: TestContext, acct: 0 | 1): string {
  const ns = `${runPrefix()}-ct`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  inNs(ns, 'nft', 'add table ip nat; add chain ip nat pre { type nat hook prerouting priority -100; }');
  inNs(ns, 'sysctl', '-q', `net.netfilter.nf_conntrack_acct=${acct}`);
  return ns;
}

/** n translated entries from client 10.0.x.y to service:80 (TCP, ESTABLISHED) over backends b1..b3, in one go. */
function fill(t: TestContext, ns: string, n: number, firstPort = 10000, service = '10.96.0.10'): void {
  const dir = mkdtempSync(join(tmpdir(), 'ss-ct-fill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines = Array.from({ length: n }, (_, i) => {
    const backend = `10.1.${(i % 3) + 1}.2`;
    return `-I -s 10.0.${(i >> 8) & 255}.${i & 255 || 1} -d ${service} -p tcp --sport ${firstPort + i} --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600 --dst-nat ${backend}:8080`;
  });
  writeFileSync(join(dir, 'entries'), `${lines.join('\n')}\n`);
  inNs(ns, 'conntrack', '-R', join(dir, 'entries'));
}

/** The helper on the namespace, its events collected, once its dump at attach is in; stopped at the end. */
async function watched(t: TestContext, ns: string, opts: Omit<ProbeOptions, 'netns'>) {
  const probe = startProbe({ ...opts, netns: `/run/netns/${ns}` });
  t.after(() => probe.stop());
  const events: StickyEvent[] = [];
  probe.on('events', (batch: StickyEvent[]) => events.push(...batch));
  await probe.ready;
  const sweeps = () => events.filter((e): e is SweepEvent => e.type === 'sweep');
  await waitFor('the dump at attach', () => sweeps().length >= 1, 10_000);
  return { probe, events, sweeps };
}

const perBackend = (backends: string[]) => {
  const m: Record<string, number> = {};
  for (const b of backends) m[b] = (m[b] ?? 0) + 1;
  return m;
};

test('accounting off: the note says how to switch it on, connections are counted without bytes', async (t) => {
  if (!requireRoot(t)) return;
  const ns = node(t, 0);
  fill(t, ns, 30);
  const truth = conntrackTable(ns).filter(isOpen);
  assert.equal(truth.length, 30, 'conntrack lists what was made');
  const trace = startCli(['trace', '--netns', `/run/netns/${ns}`, '--format', 'jsonl', '--conntrack-sweep', '1s']);
  t.after(() => {
    if (trace.child.exitCode === null) trace.child.kill('SIGKILL');
  });
  await trace.waitFor(/"type":"sweep".*"initial":true/);
  trace.child.kill('SIGINT');
  const { code } = await trace.exit;
  assert.equal(code, 0, trace.stderr());
  const events = trace
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StickyEvent);
  const opens = events.filter((e): e is ConnEvent => e.type === 'open');
  assert.deepEqual(perBackend(opens.map((e) => e.backend)), perBackend(truth.map((e) => e.backend)));
  assert.ok(
    opens.every((e) => e.origBytes === undefined),
    'no counters where the kernel keeps none',
  );
  const sweep = events.find((e): e is SweepEvent => e.type === 'sweep')!;
  assert.equal(sweep.acct, false);
  assert.equal(sweep.open, 30);
  assert.match(trace.stderr(), /note: .*nf_conntrack_acct is 0.*sysctl net\.netfilter\.nf_conntrack_acct=1/);
  assert.equal(trace.stderr().match(/nf_conntrack_acct is 0/g)?.length, 1, 'said once');
});

test('a node with no translated entry: sweeps say 0 open, nothing else, and trace ends cleanly', async (t) => {
  if (!requireRoot(t)) return;
  const ns = node(t, 1);
  inNs(
    ns,
    'conntrack',
    '-I',
    '-s',
    '10.0.0.1',
    '-d',
    '10.0.0.2',
    '-p',
    'udp',
    '--sport',
    '5',
    '--dport',
    '53',
    '-t',
    '60',
  );
  const trace = startCli(['trace', '--netns', `/run/netns/${ns}`, '--conntrack-sweep', '1s']);
  t.after(() => {
    if (trace.child.exitCode === null) trace.child.kill('SIGKILL');
  });
  await trace.waitFor(/sweep +conntrack entries=1 open=0/);
  trace.child.kill('SIGINT');
  const { code } = await trace.exit;
  assert.equal(code, 0, trace.stderr());
  assert.match(trace.stdout(), /sweep +initial dump entries=1 open=0/);
  assert.doesNotMatch(trace.stdout(), / (open|close|traffic) /, 'an untranslated entry is no Service connection');
});

test('destroy messages lost under a flood are counted, and the next sweep closes what they announced', async (t) => {
  if (!requireRoot(t)) return;
  const ns = node(t, 1);
  const { events, sweeps } = await watched(t, ns, {
    node: 'flood',
    conntrackSweepMs: 1500,
    conntrackRcvbufBytes: 4096,
  });
  // Made after the helper subscribed, these entries carry the kernel's event extension: each one's end is a message.
  const N = 3000;
  fill(t, ns, N);
  await waitFor(`a sweep finding the ${N} connections`, () => sweeps().some((s) => s.open === N), 30_000);
  const opened = events.filter((e) => e.type === 'open').length;
  assert.equal(opened, N, 'each found once, by a sweep');
  const before = sweeps().length;
  inNs(ns, 'conntrack', '-F');
  assert.equal(conntrackTable(ns).length, 0, 'conntrack -F emptied the table');
  await waitFor('a sweep after the flood', () => sweeps().length > before + 1 && sweeps().at(-1)!.open === 0, 30_000);

  const lost = events.filter((e): e is LostEvent => e.type === 'lost' && e.source === 'conntrack');
  assert.ok(lost.length > 0, 'the 4 KiB socket overran: counted as conntrack loss');
  const closes = events.filter((e): e is ConnEvent => e.type === 'close');
  const bySeen = perBackend(closes.map((c) => (c as { seen: string }).seen));
  assert.equal(closes.length, N, `every connection closed once: ${JSON.stringify(bySeen)}`);
  assert.ok((bySeen.destroy ?? 0) > 0 && (bySeen.sweep ?? 0) > 0, `both ways: ${JSON.stringify(bySeen)}`);
  assert.equal(new Set(closes.map((c) => c.client)).size, N);
  t.diagnostic(
    `closes by destroy/sweep: ${JSON.stringify(bySeen)}, overruns: ${lost.reduce((s, l) => s + l.count, 0)}`,
  );
});

test('destroy messages beyond --conntrack-events-max: the helper stops listening, says so once, the sweep closes the rest, then it listens again', async (t) => {
  if (!requireRoot(t)) return;
  const ns = node(t, 1);
  // A socket that holds every message, so each one is read or never sent: none is lost to an overrun.
  const { probe, events, sweeps } = await watched(t, ns, {
    node: 'paced',
    conntrackSweepMs: 1500,
    conntrackEventsMax: 500,
    conntrackRcvbufBytes: 8 << 20,
  });
  fill(t, ns, 1000, 10000, '10.96.0.10');
  fill(t, ns, 2000, 20000, '10.96.0.11');
  await waitFor('a sweep finding the 3000 connections', () => sweeps().some((s) => s.open === 3000), 30_000);
  const pausedNote =
    /over 500 new connections or conntrack destroy messages a second \(0 and \d+ in \d+ ms\); not listening/;
  // 1,000 ends at once: more than 500 messages within a second.
  inNs(ns, 'conntrack', '-D', '-d', '10.96.0.10');
  await waitFor('the pause', () => probe.notes.some((n) => pausedNote.test(n)), 10_000);
  // Not listening: these 2,000 ends are found by the sweep.
  inNs(ns, 'conntrack', '-D', '-d', '10.96.0.11');
  assert.equal(conntrackTable(ns).length, 0, 'conntrack -D emptied the table');
  const closes = () => events.filter((e): e is ConnEvent => e.type === 'close');
  await waitFor('3000 closes', () => closes().length >= 3000, 30_000);
  const seenBy = (service: string) =>
    perBackend(
      closes()
        .filter((c) => c.service.startsWith(`${service}:`))
        .map((c) => (c as { seen: string }).seen),
    );
  // Messages are read as conntrack -D sends them: past 500 the helper leaves, and the rest are the sweep's too.
  const first = seenBy('10.96.0.10');
  assert.ok((first.destroy ?? 0) > 500, `the first 500 and more as messages: ${JSON.stringify(first)}`);
  assert.equal((first.destroy ?? 0) + (first.sweep ?? 0), 1000, JSON.stringify(first));
  assert.deepEqual(seenBy('10.96.0.11'), { sweep: 2000 }, 'the 2,000 after the pause found by the sweep');
  assert.equal(new Set(closes().map((c) => c.client)).size, 3000, 'each connection closed once');
  assert.equal(
    probe.notes.filter((n) => pausedNote.test(n)).length,
    1,
    `one note for the flood: ${probe.notes.join(' | ')}`,
  );
  await waitFor(
    'listening again after the pause',
    () => probe.notes.some((n) => /listening to conntrack destroy messages again.*\(1 pauses/.test(n)),
    20_000,
  );
  // Back in the group: the end of a new connection comes as a destroy message, not from a sweep.
  fill(t, ns, 1, 30000);
  await waitFor(
    'the new connection opened',
    () => events.some((e) => e.type === 'open' && (e as ConnEvent).client.endsWith(':30000')),
    10_000,
  );
  inNs(ns, 'conntrack', '-D', '-p', 'tcp', '--orig-port-src', '30000');
  await waitFor(
    'its end as a destroy message',
    () => closes().some((c) => c.client.endsWith(':30000') && (c as { seen: string }).seen === 'destroy'),
    10_000,
  );
});

/**
 * New connections that the probe sees: `count` UDP flows from 10.0.9.x sent by the bench's flood at `rate` a second
 * from the namespace itself, DNATed at its output hook to 10.1.1.2 (out of a veth whose peer drops them). Returns
 * how many it sent.
 */
function newFlows(ns: string, count: number, rate: number): number {
  const out = execFileSync(
    floodPath,
    ['--netns', `/run/netns/${ns}`, '--dst', '10.96.0.20:9', '--src-base', '10.0.9.1', '--src-count', '1'].concat([
      '--count',
      String(count),
      '--rate',
      String(rate),
      '--duration',
      '60',
    ]),
    { encoding: 'utf8' },
  );
  return (JSON.parse(out) as { sent: number }).sent;
}

test('new connections past --conntrack-events-max within a second pause the destroy group; as many spread over seconds do not', async (t) => {
  if (!requireRoot(t)) return;
  const ns = node(t, 1);
  // A link out (a veth pair, both ends here) for the Service address and the backend: the flows are confirmed on the
  // way out and go nowhere.
  inNs(ns, 'ip', 'link', 'add', 'out0', 'type', 'veth', 'peer', 'name', 'out1');
  inNs(ns, 'ip', 'addr', 'add', '10.1.1.1/24', 'dev', 'out0');
  inNs(ns, 'ip', 'link', 'set', 'out0', 'up');
  inNs(ns, 'ip', 'link', 'set', 'out1', 'up');
  inNs(ns, 'ip', 'route', 'add', '10.96.0.0/16', 'dev', 'out0');
  // A known neighbour: flows waiting on ARP would stall the flood's socket.
  inNs(ns, 'ip', 'neigh', 'add', '10.1.1.2', 'lladdr', '02:00:00:00:01:02', 'dev', 'out0', 'nud', 'permanent');
  inNs(
    ns,
    'nft',
    'add chain ip nat out { type nat hook output priority -100; }; add rule ip nat out ip daddr 10.96.0.20 udp dport 9 dnat to 10.1.1.2',
  );
  const { probe, events } = await watched(t, ns, { node: 'paced-new', conntrackEventsMax: 500 });
  const dnats = () => events.filter((e) => e.type === 'dnat').length;
  const paused = () => probe.notes.filter((n) => /not listening to destroy messages/.test(n));
  // 1,200 new connections at 300 a second: over 500 in all, never in one second. (The helper once compared the
  // connections since its start with the limit, and stopped listening for good after the 500th.)
  assert.equal(newFlows(ns, 1200, 300), 1200);
  await waitFor('the probe to see the 1,200 connections', () => dnats() >= 1200 || new NotYet(dnats(), 1200), 10_000);
  assert.deepEqual(paused(), [], 'no pause for 300 new connections a second');
  // 3,000 as fast as they go: over 500 in a second.
  assert.equal(newFlows(ns, 3000, 0), 3000);
  await waitFor('the pause', () => paused().length === 1 || new NotYet(probe.notes, 'one pause note'), 10_000);
  assert.match(paused()[0]!, /over 500 new connections or conntrack destroy messages a second \((\d+) and 0 in/);
  assert.ok(Number(/a second \((\d+) and/.exec(paused()[0]!)![1]) > 500, paused()[0]);
});
