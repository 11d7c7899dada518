// The agent's IPv6 catalog, from dumps the real tools made (test/fixtures/v6/, see test/helpers/v6-fixtures.ts):
// ip6tables-save, `nft -j list table ip6 kube-proxy` in both kube-proxy shapes, an xt_recent list and nftables sets
// holding IPv6 clients. Each must say what the lab's IPv4 rules for the same Services say, with IPv6 addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { startAgent } from '../../src/agent/agent.js';
import { mergeFamilies } from '../../src/agent/families.js';
import { parseNftCatalog } from '../../src/kube-proxy/nft-parse.js';
import { NftSetWatcher, parseNftSets } from '../../src/agent/nft-sets.js';
import { NodePortCatalog } from '../../src/agent/node-ports.js';
import { parseNatCatalog, type NatCatalog } from '../../src/kube-proxy/iptables-parse.js';
import { RulesWatcher } from '../../src/agent/rules-watch.js';
import { parseRecentList } from '../../src/agent/xt-recent.js';
import type { CatalogEvent, EvictedEvent, StickyEvent } from '../../src/core/event.js';
import { defaultConfig } from '../../src/lab/config.js';
import { renderNat } from '../../src/kube-proxy/iptables-render.js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { pinnedClients, v6Of } from '../helpers/v6-fixtures.js';
import { waitFor, equals, atLeast } from '../helpers/wait.js';

const dir = new URL('../../../test/fixtures/v6/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const v4Lab = (name: string) => readFileSync(new URL(`../../../test/fixtures/nft/${name}`, import.meta.url), 'utf8');

/** The lab's IPv4 catalog with every address turned into its IPv6 twin: what the IPv6 rules must say. */
function expectedV6(): ReturnType<typeof comparable> {
  const v4 = parseNatCatalog(renderNat(defaultConfig({ nodes: 1 }), 'node', { jumps: true }).text);
  const six = (addr: string) => addr.replace(/^([\d.]+):/, (_, ip: string) => `[${v6Of(ip)}]:`);
  return comparable({
    ...v4,
    services: v4.services
      .map((s) => ({ ...s, service: six(s.service), endpoints: s.endpoints.map(six) }))
      .sort((x, y) => (x.service < y.service ? -1 : 1)),
    nodePorts: new Map([...v4.nodePorts].map(([k, v]) => [k, { ...v, endpoints: v.endpoints.map(six) }])),
  });
}

function comparable(c: NatCatalog) {
  const ordered = <T extends { endpoints: string[] }>(x: T) => ({ ...x, endpoints: [...x.endpoints].sort() });
  return { services: c.services.map(ordered), nodePorts: [...c.nodePorts].map(([k, v]) => [k, ordered(v)]) };
}

test('ip6tables-save: the Services, NodePorts and xt_recent lists of the IPv4 rules, in IPv6', () => {
  const c = parseNatCatalog(fixture('ip6tables-save.txt'));
  assert.deepEqual(comparable(c), expectedV6());
  assert.deepEqual(
    c.services.map((s) => [s.service, s.name]),
    [
      ['[fd00:5:1::22]:80/tcp', 'lab/lb:http'],
      ['[fd00:5::22]:80/tcp', 'lab/lb:http'],
      ['[fd00:96::10]:80/tcp', 'lab/web:http'],
      ['[fd00:96::11]:80/tcp', 'lab/sticky:http'],
      ['[fd00:96::12]:53/udp', 'lab/dns:dns'],
      ['[fd00:96::13]:80/tcp', 'lab/edge:http'],
      ['[fd00:96::20]:80/tcp', 'lab/empty:http'],
      ['[fd00:96::22]:80/tcp', 'lab/lb:http'],
    ],
  );
  assert.equal(c.services.find((s) => s.name === 'lab/empty:http')?.noEndpoints, 'reject', 'from the filter table');
  assert.equal(c.lists.size, 6, 'three endpoints each for lab/sticky:http and lab/dns:dns');
  for (const [name, list] of c.lists) {
    assert.match(name, /^KUBE-SEP-[A-Z2-7]{16}$/);
    assert.match(list.endpoint, /^\[fd00:1:[123]::2\]:(8080|5353)$/);
    assert.equal(list.timeoutSeconds, 10);
    assert.ok(list.service === '[fd00:96::11]:80/tcp' || list.service === '[fd00:96::12]:53/udp', list.service!);
  }
});

for (const version of ['1.35', '1.36']) {
  test(`nft ip6 kube-proxy (${version} shape): the catalog ip6tables gives, affinity sets by endpoint`, () => {
    const c = parseNftCatalog(fixture(`nft-${version}.json`));
    assert.equal(c.mode, 'nftables');
    assert.deepEqual(comparable(c), expectedV6());
    assert.equal(c.lists.size, 6);
    for (const [name, list] of c.lists) {
      // The set's name carries its endpoint with dots for colons.
      const m = /^affinity-[A-Z2-7]{8}-lab\/(sticky|dns)\/(tcp|udp)\/\w+__([\d.a-f]+)\/(\d+)$/.exec(name);
      assert.ok(m, name);
      assert.equal(list.endpoint, `[${m[3]!.replaceAll('.', ':')}]:${m[4]}`);
      assert.equal(list.service, m[1] === 'sticky' ? '[fd00:96::11]:80/tcp' : '[fd00:96::12]:53/udp');
      assert.equal(list.timeoutSeconds, 10);
    }
  });
}

test('xt_recent and nftables sets: IPv6 clients as flows write them', () => {
  const recent = readdirSync(dir).find((f) => f.startsWith('xt_recent-'))!;
  // The kernel writes every group in full ("fd00:0000:0001:..."): read back in RFC 5952's form.
  assert.match(fixture(recent), /src=fd00:0000:0001:0000:0000:0000:0000:0002 /);
  assert.deepEqual(
    parseRecentList(fixture(recent))
      .map((e) => e.client)
      .sort(),
    pinnedClients,
  );
  for (const version of ['1.35', '1.36']) {
    const sets = parseNftSets(fixture(`nft-${version}-sets.json`));
    const filled = [...sets].filter(([name, s]) => name.startsWith('affinity-') && s.clients.size > 0);
    assert.equal(filled.length, 1);
    assert.deepEqual([...filled[0]![1].clients].sort(), pinnedClients);
  }
});

test('a full IPv6 affinity set: the client it could not pin is reported, pinned ones are not', async () => {
  const table = parseNftCatalog(fixture('nft-1.35.json'));
  // The fixture's filled set, declared as holding two (it holds two): full.
  const doc = JSON.parse(fixture('nft-1.35-sets.json'));
  const full = doc.nftables.find(
    (i: { set?: { name: string; elem?: unknown[] } }) => i.set?.name.startsWith('affinity-') && i.set.elem?.length,
  );
  full.set.size = 2;
  const list = table.lists.get(full.set.name)!;
  const events: StickyEvent[] = [];
  let now = dnat(0, 'n1').ts / 1000 - 1000;
  const w = new NftSetWatcher({
    node: 'n1',
    read: async () => [JSON.stringify(doc)],
    lists: () => table.lists,
    emit: (e) => events.push(...e),
    nowMs: () => now,
  });
  const pick = (client: string) =>
    dnat(0.5, 'n1', { client, service: '[fd00:96::11]:80', backend: list.endpoint, proto: 'tcp' });
  w.observe([pick('[fd00:0:1::2]:40000'), pick('[fd00:0:3::2]:40001')]);
  now += 2000;
  await w.poll();
  const evicted = events.filter((e): e is EvictedEvent => e.type === 'evicted');
  assert.deepEqual(
    evicted.map((e) => [e.client, e.cause, e.endpoint]),
    [['fd00:0:3::2', 'setFull', list.endpoint]],
  );
});

test('NodePorts: an IPv6 flow learns from the IPv6 rules only', () => {
  const v4 = parseNatCatalog(renderNat(defaultConfig({ nodes: 1 }), 'node', { jumps: true }).text);
  const v6 = parseNatCatalog(fixture('ip6tables-save.txt'));
  const np = new NodePortCatalog();
  np.setRules(mergeFamilies(v4, { ...v6, nodePorts: new Map() })!);
  assert.equal(np.learn('[fd00:3::1]:30080', 'tcp'), false, 'no IPv6 NodePort in these rules');
  np.setRules(mergeFamilies(v4, v6)!);
  assert.equal(np.learn('[fd00:3::1]:30080', 'tcp'), true);
  assert.equal(np.learn('[fd00:3::1]:30081', 'tcp'), false);
  const learned = np.services().find((s) => s.service === '[fd00:3::1]:30080/tcp')!;
  assert.equal(learned.name, 'lab/edge:http');
  assert.ok(
    learned.endpoints.every((e) => e.startsWith('[fd00:1:')),
    'IPv6 endpoints only',
  );
});

test('a bad IPv6 read keeps the previous IPv6 catalog and says which family', async () => {
  let text = fixture('nft-1.36.json');
  const changes: NatCatalog[] = [];
  const told: string[] = [];
  const w = new RulesWatcher(
    async () => ({ mode: 'nftables', text }),
    (c) => changes.push(c),
    'IPv6 rules',
    (m) => told.push(m),
  );
  await w.poll();
  assert.equal(w.current?.services.length, 8);
  // A newer kube-proxy's rule in a service chain: skipped and named once, the Services all kept.
  const doc = JSON.parse(text);
  const rule = doc.nftables.find((i: { rule?: { chain: string } }) =>
    /^service-[A-Z2-7]{8}-/.test(i.rule?.chain ?? ''),
  );
  doc.nftables.push({ rule: { ...rule.rule, expr: [{ quota: { val: 5, val_unit: 'mbytes' } }, ...rule.rule.expr] } });
  text = JSON.stringify(doc);
  await w.poll();
  text = JSON.stringify(doc, null, 1); // read again, differently spaced: parsed again, not told again
  await w.poll();
  assert.equal(told.length, 1);
  assert.match(told[0]!, /^IPv6 rules: nftables rules: skipped what is not understood: chain service-.*\{"quota"/);
  const good = w.current;
  assert.equal(good?.services.length, 8);
  // Then a read cut short.
  text = fixture('nft-1.35.json').slice(0, 2000);
  await assert.rejects(() => w.poll(), /IPv6 rules: nftables table not understood: output is not JSON/);
  assert.equal(w.current, good);
  assert.equal(changes.length, 1);
});

test('the agent: one catalog naming both families, IPv6 flows named; no IPv6 rules is no warning', async (t) => {
  const probe = new FakeSource();
  const warnings: string[] = [];
  let six: string | Error = fixture('nft-1.36.json');
  let reads6 = 0;
  const agent = await startAgent(probe, {
    node: 'n1',
    listen: '127.0.0.1:0',
    rulesIntervalMs: 30,
    readRules: async () => ({ mode: 'nftables', text: v4Lab('lab-1.36-node.json') }),
    readRules6: async () => {
      reads6++;
      if (six instanceof Error) throw six;
      // What nodeRules(netns, 6) reads on a node with neither ip6tables rules nor an `ip6 kube-proxy` table.
      return six === '' ? { mode: 'iptables', text: '' } : { mode: 'nftables', text: six };
    },
    readSets: async () => '{"nftables": []}',
    readSets6: async () => fixture('nft-1.36-sets.json'),
    onWarning: (m) => warnings.push(m),
  });
  t.after(() => agent.stop());
  const conn = new AgentConnection(agent.address);
  t.after(() => conn.stop());
  const got: StickyEvent[] = [];
  conn.on('events', (events: StickyEvent[]) => got.push(...events));
  await waitFor('the first catalog', () => got.some((e) => e.type === 'catalog'), 10_000);
  const catalog = got.find((e): e is CatalogEvent => e.type === 'catalog')!;
  const sticky = catalog.services.filter((s) => s.name === 'lab/sticky:http').map((s) => s.service);
  assert.deepEqual(sticky, ['10.96.0.11:80/tcp', '[fd00:96::11]:80/tcp']);
  assert.equal(catalog.proxyMode, 'nftables');
  probe.emitEvents([
    dnat(1, 'n1', { client: '[fd00:0:1::2]:40000', service: '[fd00:96::12]:53', proto: 'udp' }),
    dnat(2, 'n1', { client: '[fd00:0:1::2]:40001', service: '[fd00:96::99]:53', proto: 'udp' }),
  ]);
  await waitFor('the flows', () => got.filter((e) => e.type === 'dnat').length === 2, 10_000);
  assert.deepEqual(
    got.filter((e) => e.type === 'dnat').map((e) => (e as { serviceName?: string }).serviceName ?? null),
    ['lab/dns:dns', null],
  );
  // The IPv6 table goes away (the node dropped IPv6): its Services leave the catalog, nobody is warned.
  six = '';
  await waitFor('a catalog without IPv6', () => got.filter((e) => e.type === 'catalog').length === 2, 10_000);
  const last = got.filter((e): e is CatalogEvent => e.type === 'catalog').at(-1)!;
  assert.ok(last.services.every((s) => !s.service.startsWith('[')));
  // A read that fails says so once, naming the family, and keeps what was there.
  six = new Error('nft: Permission denied');
  await waitFor('the warning', () => equals(warnings.length, 1), 10_000);
  const failed = reads6;
  await waitFor('more failed reads of the IPv6 rules', () => atLeast(reads6, failed + 4), 10_000);
  assert.deepEqual(warnings, ['IPv6 rules: nft: Permission denied']);
});

test('addresses that are not addresses are never catalog entries (consumers would drop the whole catalog)', () => {
  // nft: a map key or a DNAT target that is no IP is skipped and named, as anything else it does not understand.
  const doc = JSON.parse(fixture('nft-1.36.json'));
  const map = doc.nftables.find((i: { map?: { name: string } }) => i.map?.name === 'service-ips');
  map.map.elem[0][0].concat[0] = 'fd00::9\u007f';
  const keyed = parseNftCatalog(JSON.stringify(doc));
  assert.equal(keyed.services.length, 7, 'the other Services stay');
  assert.ok(keyed.services.every((s) => !s.service.includes('\u007f')));
  assert.match(keyed.skipped!.join('\n'), /map service-ips: an element keyed \["fd00::9/);
  const dnat = JSON.parse(fixture('nft-1.35.json'));
  const rule = dnat.nftables.find((i: { rule?: { expr: { dnat?: unknown }[] } }) => i.rule?.expr.some((e) => e.dnat));
  rule.rule.expr.find((e: { dnat?: { addr: string } }) => e.dnat).dnat.addr = 'fd00:1:1::zz';
  const targeted = parseNftCatalog(JSON.stringify(dnat));
  assert.ok(targeted.services.flatMap((s) => s.endpoints).every((e) => !e.includes('zz')));
  assert.match(targeted.skipped!.join('\n'), /a dnat to \["fd00:1:1::zz",8080\]/);
  // ip6tables: a rule of another shape (a port range, a DNAT range) is not kube-proxy's: left out, the rest read.
  const text = fixture('ip6tables-save.txt')
    .replace('-d fd00:96::10/128 -p tcp', '-d fd00:96::10/128 -p tcp -m multiport')
    .replace('--dport 80 -j KUBE-SVC-NAVV37HDGJLPWY47', '--dport 80:90 -j KUBE-SVC-NAVV37HDGJLPWY47')
    .replaceAll('--to-destination [fd00:1:1::2]:8080', '--to-destination [fd00:1:1::2]-[fd00:1:1::9]:8080');
  const c = parseNatCatalog(text);
  assert.ok(!c.services.some((s) => s.service.startsWith('[fd00:96::10]')), 'the port range is no Service port');
  assert.equal(c.services.length, 7);
  const endpoints = c.services.flatMap((s) => s.endpoints);
  assert.ok(endpoints.length > 0);
  for (const e of endpoints) assert.match(e, /^\[fd00:1:[23]::2\]:8080$|^\[fd00:1:[123]::2\]:5353$/, 'no range');
});
