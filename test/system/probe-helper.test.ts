// The probe helper against real traffic in namespaces built here. Ground truth is the
// backend listener's log (who connected, to which address) and conntrack(8), never the
// probe's own output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { ProbeNet, SERVICE4, SERVICE6, SERVICE_PORT, type Seen } from '../helpers/probe-topology.js';
import { helperPath, startProbe } from '../../src/probe/probe.js';
import { RecordDecoder } from '../../src/probe/decode-records.js';
import { EnvironmentError } from '../../src/core/errors.js';
import type { DnatEvent, FlowEvent, SnatEvent, StickyEvent } from '../../src/core/event.js';
import { waitFor, equals, atLeast } from '../helpers/wait.js';

/** Events of each kind received so far. */
const kinds = (events: StickyEvent[]) => {
  const n = { dnat: 0, insert: 0, snat: 0, counters: 0 };
  for (const e of events) if (e.type in n) n[e.type as keyof typeof n]++;
  return n;
};

/** One expected selection per connection: UDP datagrams repeated on a flow count once. */
function expectedSelections(seen: Seen[]): string[] {
  const keys = seen.map((s) => {
    const service = s.local.startsWith('[') ? `[${SERVICE6}]:${SERVICE_PORT}` : `${SERVICE4}:${SERVICE_PORT}`;
    return `${s.proto} ${s.client} ${service} ${s.local}`;
  });
  return [...new Set(keys)].sort();
}

const selectionOf = (e: FlowEvent) => `${e.proto} ${e.client} ${e.service} ${e.backend}`;

async function netFor(t: import('node:test').TestContext, masquerade = false): Promise<ProbeNet> {
  const net = new ProbeNet(runPrefix());
  t.after(() => net.destroy());
  net.build({ masquerade });
  await net.listen();
  return net;
}

test('one dnat event per TCP/UDP connection, IPv4 and IPv6, matching what the backend saw', async (t) => {
  if (!requireRoot(t)) return;
  const net = await netFor(t);
  const probe = startProbe({ node: 'probe-test', netns: net.nodePath });
  t.after(() => probe.stop());
  const events: StickyEvent[] = [];
  probe.on('events', (batch: StickyEvent[]) => events.push(...batch));
  await probe.ready;
  const startUs = Date.now() * 1000;
  await net.traffic({ host: SERVICE4, tcp: 20, udp: 10, datagrams: 3 });
  await net.traffic({ host: SERVICE6, tcp: 10, udp: 5, datagrams: 3 });
  await net.waitSeen(20 + 30 + 10 + 15);
  await waitFor(
    'a dnat and an insert event for every connection the backend saw',
    () => {
      const { dnat, insert } = kinds(events);
      const n = expectedSelections(net.seen).length;
      return equals({ dnat, insert }, { dnat: n, insert: n });
    },
    5000,
  );
  await probe.stop();
  const endUs = Date.now() * 1000;

  const expected = expectedSelections(net.seen);
  // A client port the kernel hands out again makes two connections one tuple (for UDP, one conntrack entry and one
  // selection): the backend's distinct tuples are the ground truth, and at most a few ports come back.
  assert.ok(
    expected.length <= 20 + 10 + 10 + 5 && expected.length >= 20 + 10 + 10 + 5 - 3,
    `backend saw every connection: ${expected.length} distinct of 45`,
  );
  const dnat = events.filter((e): e is DnatEvent => e.type === 'dnat');
  assert.deepEqual(dnat.map(selectionOf).sort(), expected);
  assert.ok(dnat.every((e) => e.hook === 'prerouting' && e.node === 'probe-test'));
  assert.ok(
    dnat.every((e) => e.ts >= startUs - 1000 && e.ts <= endUs + 1000),
    'timestamps inside the run, in wall-clock microseconds',
  );
  assert.equal(new Set(dnat.map((e) => e.ctId)).size, dnat.length, 'conntrack ids are distinct');
  assert.ok(dnat.every((e) => /^[0-9a-f]{16}$/.test(e.ctId)));

  // Every new entry is confirmed once, at POST_ROUTING for forwarded traffic, with the same id.
  const inserts = events.filter((e): e is FlowEvent => e.type === 'insert');
  const insertById = new Map(inserts.map((e) => [e.ctId, e]));
  assert.equal(inserts.length, dnat.length);
  for (const d of dnat) {
    const ins = insertById.get(d.ctId);
    assert.ok(ins, `insert event for ${selectionOf(d)}`);
    assert.equal(selectionOf(ins), selectionOf(d));
    assert.equal(ins.hook, 'postrouting');
    assert.ok(ins.ts >= d.ts);
  }
  assert.equal(events.filter((e) => e.type === 'snat').length, 0, 'nothing was masqueraded');
});

test('connections made on the node itself are seen at LOCAL_OUT', async (t) => {
  if (!requireRoot(t)) return;
  const net = await netFor(t);
  const probe = startProbe({ node: 'probe-test', netns: net.nodePath });
  t.after(() => probe.stop());
  const events: StickyEvent[] = [];
  probe.on('events', (batch: StickyEvent[]) => events.push(...batch));
  await probe.ready;
  await net.traffic({ host: SERVICE4, tcp: 5, udp: 3, datagrams: 2, fromNode: true });
  await net.traffic({ host: SERVICE6, tcp: 3, udp: 0, fromNode: true });
  await net.waitSeen(5 + 6 + 3);
  await waitFor(
    'a dnat event for every connection the backend saw',
    () => atLeast(kinds(events).dnat, expectedSelections(net.seen).length),
    5000,
  );
  await probe.stop();

  const dnat = events.filter((e): e is DnatEvent => e.type === 'dnat');
  assert.deepEqual(dnat.map(selectionOf).sort(), expectedSelections(net.seen));
  assert.equal(dnat.length, 5 + 3 + 3);
  assert.ok(dnat.every((e) => e.hook === 'output'));
});

test('masqueraded connections give snat events carrying the source the backend saw', async (t) => {
  if (!requireRoot(t)) return;
  const net = await netFor(t, true);
  const probe = startProbe({ node: 'probe-test', netns: net.nodePath });
  t.after(() => probe.stop());
  const events: StickyEvent[] = [];
  probe.on('events', (batch: StickyEvent[]) => events.push(...batch));
  await probe.ready;
  await net.traffic({ host: SERVICE4, tcp: 5, udp: 5 });
  await net.traffic({ host: SERVICE6, tcp: 5, udp: 0 });
  await net.waitSeen(15);
  await waitFor(
    'an snat event for every connection the backend saw',
    () => atLeast(kinds(events).snat, net.seen.length),
    5000,
  );
  await probe.stop();

  // The backend saw the node's address, so the client side of the ground truth is the snat field.
  const expected = net.seen.map((s) => `${s.proto} ${s.client} ${s.local}`).sort();
  const snat = events.filter((e): e is SnatEvent => e.type === 'snat');
  assert.equal(expected.length, 15);
  assert.deepEqual(snat.map((e) => `${e.proto} ${e.snat} ${e.backend}`).sort(), expected);
  assert.ok(snat.every((e) => e.hook === 'postrouting'));
  assert.ok(
    net.seen.every((s) => s.client.startsWith('10.77.2.1:') || s.client.startsWith('[fd77:2::1]:')),
    'the backend saw the node',
  );
  const dnatIds = new Set(events.filter((e) => e.type === 'dnat').map((e) => (e as DnatEvent).ctId));
  assert.ok(
    snat.every((e) => dnatIds.has(e.ctId)),
    'each snat belongs to a dnat of the same entry',
  );
  const clients = new Set(snat.map((e) => e.client.replace(/:\d+$/, '')));
  assert.deepEqual([...clients].sort(), ['10.77.1.2', '[fd77:1::2]']);
});

test('a full ring buffer is counted: lost + received == connections made', async (t) => {
  if (!requireRoot(t)) return;
  const net = await netFor(t);
  const helper = spawn(
    helperPath(),
    ['--netns', net.nodePath, '--ringbuf-bytes', '4096', '--poll-ms', '1000', '--no-insert', '--counters-ms', '100'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.after(() => {
    if (helper.exitCode === null) helper.kill('SIGKILL');
  });
  const decoder = new RecordDecoder('lossy');
  const events: StickyEvent[] = [];
  let attached!: () => void;
  const ready = new Promise<void>((r) => (attached = r));
  helper.stdout!.on('data', (chunk: Buffer) => {
    events.push(...decoder.decode(chunk));
    if (decoder.started) attached();
  });
  await Promise.race([
    ready,
    once(helper, 'close').then(([code]) => {
      throw new Error(`helper exited ${code} before HELLO`);
    }),
  ]);
  const connections = 300;
  await net.traffic({ host: SERVICE4, tcp: connections, udp: 0, concurrency: 64 });
  await net.waitSeen(connections);
  const lostCount = () => events.reduce((n, e) => n + (e.type === 'lost' ? e.count : 0), 0);
  await waitFor(
    'every connection received or counted lost',
    () => equals(kinds(events).dnat + lostCount(), connections),
    5000,
  );
  const entries = net.conntrackCount();
  // The helper's next counters tick after conntrack -C was read.
  const ticks = kinds(events).counters;
  await waitFor('a counters event after conntrack -C', () => atLeast(kinds(events).counters, ticks + 1), 5000);
  helper.kill('SIGTERM');
  const [code] = (await once(helper, 'close')) as [number | null];
  assert.equal(code, 0);

  assert.equal(net.seen.length, connections, 'backend saw every connection');
  const received = events.filter((e) => e.type === 'dnat').length;
  const lost = events.reduce((n, e) => n + (e.type === 'lost' ? e.count : 0), 0);
  t.diagnostic(`${connections} connections: ${received} dnat events received, ${lost} reported lost`);
  assert.ok(lost > 0, 'a 4096-byte ring buffer drained once a second must overflow');
  assert.equal(received + lost, connections);
  assert.equal(events.filter((e) => e.type === 'insert').length, 0, '--no-insert turns insert events off');
  const counters = events.filter((e) => e.type === 'counters');
  assert.ok(counters.length >= 3);
  assert.equal(
    counters.at(-1)!.type === 'counters' && counters.at(-1)!.entries,
    entries,
    "table size is the node namespace's, as conntrack -C says",
  );
});

function netfilterLinks(pid: number): { id: number; where: string }[] {
  const links = [];
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    if (!/^link_type:\s+netfilter$/m.test(info)) continue;
    const m = /^link_id:\s+(\d+)$/m.exec(info)!;
    const w = /^pf:\s+(\d+)\s+hooknum:\s+(\d+)\s+prio:\s+(-?\d+)$/m.exec(info)!;
    links.push({ id: Number(m[1]), where: `${w[1]}/${w[2]}/${w[3]}` });
  }
  return links;
}

test('a helper killed mid-run is reported, and leaves no link or process behind', async (t) => {
  if (!requireRoot(t)) return;
  const ns = `${runPrefix()}-k`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  const probe = startProbe({ node: 'killed', netns: `/run/netns/${ns}` });
  t.after(() => probe.stop());
  await probe.ready;
  const pid = probe.pid!;
  const links = netfilterLinks(pid);
  assert.deepEqual(links.map((l) => l.where).sort(), [
    '10/0/-99',
    '10/1/2147483645',
    '10/3/-99',
    '10/4/2147483646',
    '2/0/-99',
    '2/1/2147483645',
    '2/3/-99',
    '2/4/2147483646',
  ]);
  const failed = once(probe, 'error');
  const exited = new Promise((r) => probe.on('exit', (code) => r(code)));
  process.kill(pid, 'SIGKILL');
  const [err] = (await failed) as [Error];
  assert.ok(err instanceof EnvironmentError);
  assert.equal(err.message, 'probe helper exited unexpectedly (signal SIGKILL)');
  assert.equal(await exited, null);
  assert.equal(existsSync(`/proc/${pid}`), false);
  // Links are released when the last fd closes, which the kernel may defer briefly.
  const ids = new Set(links.map((l) => l.id));
  const remaining = () =>
    (JSON.parse(execFileSync('bpftool', ['link', 'list', '-j'], { encoding: 'utf8' })) as { id: number }[]).filter(
      (l) => ids.has(l.id),
    );
  await waitFor("the killed helper's links to be released", () => equals(remaining(), []), 5000, 50);
});

test('an unknown namespace path gives one clear line and a non-zero exit', async (t) => {
  if (!requireRoot(t)) return;
  const missing = `/run/netns/${runPrefix()}-missing`;
  const r = spawnSync(helperPath(), ['--netns', missing], { encoding: 'utf8', input: '' });
  assert.equal(r.status, 5);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `stickyscope-probe: failed to open network namespace ${missing}: No such file or directory\n`);
  const probe = startProbe({ node: 'n', netns: missing });
  await assert.rejects(
    probe.ready,
    (err: Error) =>
      err instanceof EnvironmentError &&
      err.message === `failed to open network namespace ${missing}: No such file or directory`,
  );
});

test('run without root, the helper says it needs root', (t) => {
  if (!requireRoot(t)) return;
  // a copy in a world-readable place, so the unprivileged user can execute it
  const dir = mkdtempSync(join(tmpdir(), 'ss-probe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  copyFileSync(helperPath(), join(dir, 'stickyscope-probe'));
  chmodSync(join(dir, 'stickyscope-probe'), 0o755);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', join(dir, 'stickyscope-probe')], {
    encoding: 'utf8',
    input: '',
  });
  assert.equal(r.status, 3);
  assert.match(
    r.stderr,
    /^stickyscope-probe: failed to start: needs root \(with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN\); running as uid 65534\n$/,
  );
});

/**
 * Without CAP_PERFMON and CAP_SYS_ADMIN, the kernel's verifier refuses the netfilter program's read of the skb (Linux
 * >= 6.4, where netfilter programs exist). Its own words end the log the helper gets from bpf_program__set_log_buf.
 */
function withoutPerfmon(args: string[]) {
  return spawnSync('capsh', ['--drop=cap_perfmon,cap_sys_admin', '--', '-c', 'exec "$0" "$@"', helperPath(), ...args], {
    encoding: 'utf8',
    input: '',
  });
}

function netfilterKernel(t: import('node:test').TestContext): boolean {
  const [major = 0, minor = 0] = execFileSync('uname', ['-r'], { encoding: 'utf8' }).split('.').map(Number);
  if (major > 6 || (major === 6 && minor >= 4)) return true;
  t.skip(`netfilter programs need Linux >= 6.4; this is ${major}.${minor}`);
  return false;
}

test("a program the verifier refuses is named, with the end of the kernel's log, in one line", (t) => {
  if (!requireRoot(t) || !netfilterKernel(t)) return;
  const r = withoutPerfmon(['--attach', 'netfilter']);
  assert.equal(r.status, 7, r.stderr);
  assert.match(
    r.stderr,
    /^stickyscope-probe: failed to load BPF program 'ss_\w+': the verifier rejected it \(Operation not permitted\): .*access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN \| processed \d+ insns [^|\n]*\n$/,
  );
});

test("--verbose passes libbpf's messages through, its debug ones included; without it they are dropped", (t) => {
  if (!requireRoot(t) || !netfilterKernel(t)) return;
  const quiet = withoutPerfmon(['--attach', 'netfilter']);
  const verbose = withoutPerfmon(['--attach', 'netfilter', '--verbose']);
  assert.equal(verbose.status, 7, verbose.stderr);
  const libbpf = (text: string) => text.split('\n').filter((l) => l.startsWith('libbpf: '));
  assert.deepEqual(libbpf(quiet.stderr), []);
  // A debug message (what libbpf loads) and a warning (the refused program), then the helper's one failure line.
  assert.ok(
    libbpf(verbose.stderr).some((l) => /^libbpf: loading object/.test(l)),
    verbose.stderr,
  );
  assert.ok(
    libbpf(verbose.stderr).some((l) => /prog 'ss_\w+': BPF program load failed/.test(l)),
    verbose.stderr,
  );
  assert.match(verbose.stderr, /\nstickyscope-probe: failed to load BPF program 'ss_\w+': the verifier rejected it/);
});
