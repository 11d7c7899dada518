// Evictions from full xt_recent lists: on hand-made list files with a fake clock, then
// on a real list in a network namespace filled past ip_list_tot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvictionWatcher, ipListTotPath, parseRecentList } from '../../src/agent/xt-recent.js';
import type { RecentList } from '../../src/kube-proxy/iptables-parse.js';
import type { EvictedEvent } from '../../src/core/event.js';
import { requireRoot, runPrefix, skip } from '../helpers/env.js';
import { equals, waitFor } from '../helpers/wait.js';

const line = (ip: string, lastSeen: number) => `src=${ip} ttl: 64 last_seen: ${lastSeen} oldest_pkt: 1 ${lastSeen}\n`;

test('parses the kernel format', () => {
  assert.deepEqual(
    parseRecentList(
      'src=10.0.1.2 ttl: 64 last_seen: 4295122898 oldest_pkt: 2 4295122885, 4295122898\nsrc=10.0.1.3 ttl: 63 last_seen: 7 oldest_pkt: 1 7\n',
    ),
    [
      { client: '10.0.1.2', lastSeen: 4295122898 },
      { client: '10.0.1.3', lastSeen: 7 },
    ],
  );
});

test('an entry gone from a full list before its timeout is an eviction; other departures are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-xtr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cap'), '3\n');
  const lists = new Map<string, RecentList>([
    ['KUBE-SEP-A', { endpoint: '10.1.1.2:8080', service: '10.96.0.10:80/tcp', timeoutSeconds: 10 }],
    ['KUBE-SEP-B', { endpoint: '10.1.2.2:8080', service: '10.96.0.10:80/tcp', timeoutSeconds: 10 }],
  ]);
  let now = 1_000_000;
  const evicted: EvictedEvent[] = [];
  const w = new EvictionWatcher({
    dir: join(dir, 'lists'),
    node: 'n1',
    lists: () => lists,
    onEvicted: (e) => evicted.push(e),
    capacityPath: join(dir, 'cap'),
    nowMs: () => now,
  });
  const write = (name: string, text: string) => writeFileSync(join(dir, 'lists', name), text);
  execFileSync('mkdir', [join(dir, 'lists')]);

  write('KUBE-SEP-A', line('10.0.0.1', 100));
  write('KUBE-SEP-B', line('10.0.0.9', 100));
  await w.poll(); // first look: ages unknown
  now += 250;
  write('KUBE-SEP-A', line('10.0.0.1', 100) + line('10.0.0.2', 200) + line('10.0.0.3', 300));
  write('KUBE-SEP-B', '');
  await w.poll(); // .9 left a list that was not full: expired or reaped, not evicted
  assert.deepEqual(evicted, []);
  now += 250;
  write('KUBE-SEP-A', line('10.0.0.2', 200) + line('10.0.0.3', 300) + line('10.0.0.4', 400));
  await w.poll(); // .1 left a full list, but was there at the first look (age unknown)
  assert.deepEqual(evicted, []);
  now += 250;
  write('KUBE-SEP-A', line('10.0.0.3', 300) + line('10.0.0.4', 400) + line('10.0.0.5', 500));
  await w.poll(); // .2 arrived 500 ms ago in a full list, 10 s timeout: evicted since the previous read
  assert.deepEqual(evicted, [
    {
      type: 'evicted',
      ts: now * 1000,
      since: (now - 250) * 1000,
      node: 'n1',
      list: 'KUBE-SEP-A',
      endpoint: '10.1.1.2:8080',
      client: '10.0.0.2',
      capacity: 3,
    },
  ]);
  now += 20_000;
  write('KUBE-SEP-A', line('10.0.0.4', 400) + line('10.0.0.5', 500) + line('10.0.0.6', 600));
  await w.poll(); // .3 went after its timeout had passed: not an eviction
  assert.equal(evicted.length, 1);
  now += 250;
  write('KUBE-SEP-A', line('10.0.0.4', 700) + line('10.0.0.5', 500) + line('10.0.0.6', 600));
  await w.poll();
  now += 250;
  write('KUBE-SEP-A', line('10.0.0.4', 700) + line('10.0.0.6', 600) + line('10.0.0.7', 800));
  await w.poll(); // .5 was last refreshed 20 s ago: expired, even though the list is full
  assert.equal(evicted.length, 1);
  now += 250;
  write('KUBE-SEP-A', line('10.0.0.6', 600) + line('10.0.0.7', 800) + line('10.0.0.8', 900));
  await w.poll(); // .4 was refreshed 500 ms ago: evicted
  assert.deepEqual(
    (evicted as EvictedEvent[]).map((e) => e.client),
    ['10.0.0.2', '10.0.0.4'],
  );
});

test('a real xt_recent list filled past ip_list_tot: the evicted client is reported', {
  timeout: 60_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const capacity = Number(readFileSync(ipListTotPath, 'utf8').trim());
  if (capacity > 1000) {
    skip(t, `ip_list_tot is ${capacity} (Debian's default: 100); filling that many takes too long`);
    return;
  }
  const ns = `${runPrefix()}-xtr`;
  const list = `KUBE-SEP-${ns.toUpperCase()}`.slice(0, 28);
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  const batch = [
    'link set lo up',
    'addr add 10.77.1.1/32 dev lo',
    ...Array.from({ length: capacity + 1 }, (_v, i) => `addr add 10.77.${2 + (i >> 8)}.${i & 255}/32 dev lo`),
  ].join('\n');
  execFileSync('ip', ['-n', ns, '-batch', '-'], { input: batch });
  execFileSync('ip', [
    'netns',
    'exec',
    ns,
    'iptables',
    '-A',
    'OUTPUT',
    '-d',
    '10.77.1.1/32',
    '-p',
    'udp',
    '-m',
    'recent',
    '--set',
    '--name',
    list,
    '--rsource',
  ]);
  // A process in the namespace, so /proc/<pid>/net is the namespace's, as the agent reads it.
  const holder = spawn('ip', ['netns', 'exec', ns, 'sleep', '120'], { stdio: 'ignore' });
  t.after(() => holder.kill());
  const netnsOf = (path: string) => statSync(path).ino;
  await waitFor(
    `the holder to be in ${ns}`,
    () => equals(holder.pid !== undefined && netnsOf(`/proc/${holder.pid}/ns/net`), netnsOf(`/run/netns/${ns}`)),
    5000,
  );
  const dir = `/proc/${holder.pid}/net/xt_recent`;
  const send = (from: number[]) =>
    execFileSync('ip', [
      'netns',
      'exec',
      ns,
      'python3',
      '-c',
      `
import socket, sys
for i in map(int, sys.argv[1:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('10.77.%d.%d' % (2 + (i >> 8), i & 255), 0))
    s.sendto(b'x', ('10.77.1.1', 9))
    s.close()
`,
      ...from.map(String),
    ]);
  const addr = (i: number) => `10.77.${2 + (i >> 8)}.${i & 255}`;

  const evicted: EvictedEvent[] = [];
  const lists = new Map<string, RecentList>([[list, { endpoint: '10.77.1.1:9', service: null, timeoutSeconds: 60 }]]);
  const w = new EvictionWatcher({ dir, node: 'n1', lists: () => lists, onEvicted: (e) => evicted.push(e) });
  await w.poll();
  send(Array.from({ length: capacity }, (_v, i) => i));
  await w.poll();
  const full = parseRecentList(readFileSync(join(dir, list), 'utf8'));
  assert.equal(full.length, capacity, 'the list is full');
  send([1]); // refreshes client 1, so the least recently seen is client 0
  await w.poll();
  const before = Date.now() * 1000;
  send([capacity]);
  const sent = Date.now() * 1000;
  await w.poll();
  const after = new Set(parseRecentList(readFileSync(join(dir, list), 'utf8')).map((e) => e.client));
  assert.ok(!after.has(addr(0)) && after.has(addr(1)) && after.has(addr(capacity)), 'the kernel evicted client 0');
  assert.deepEqual(evicted, [
    {
      type: 'evicted',
      ts: evicted[0]?.ts ?? 0,
      since: evicted[0]?.since,
      node: 'n1',
      list,
      endpoint: '10.77.1.1:9',
      client: addr(0),
      capacity,
    },
  ]);
  // The interval holds the moment the kernel evicted client 0: while the packet was being sent.
  assert.ok(
    evicted[0]!.since! <= before && evicted[0]!.ts >= sent,
    `(${evicted[0]!.since}, ${evicted[0]!.ts}] holds [${before}, ${sent}]`,
  );
});
