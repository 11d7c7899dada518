// The rule readers are robust by design: whatever unknown chain, set, map, element, rule or table is added anywhere in
// a table they read (a newer kube-proxy, another program's rules), the catalog of what they do understand is the same;
// and what kube-proxy writes for a Service without endpoints is read as such, in both modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseNftCatalog } from '../../src/kube-proxy/nft-parse.js';
import { parseNatCatalog, type NatCatalog } from '../../src/kube-proxy/iptables-parse.js';
import { defaultConfig, nodeName } from '../../src/lab/config.js';
import { renderNat } from '../../src/kube-proxy/iptables-render.js';

const read = (path: string) => readFileSync(new URL(`../../../test/fixtures/${path}`, import.meta.url), 'utf8');

/** What a catalog says, without what it skipped. */
const said = (c: NatCatalog) => ({
  mode: c.mode,
  services: c.services,
  lists: [...c.lists],
  nodePorts: [...c.nodePorts],
});

const runs = { numRuns: 150, seed: 24 };

/** Statements no kube-proxy writes (nft's JSON names for quota, queue, synproxy, tproxy, an xt match). */
const oddStatement = fc.oneof(
  fc.constant({ quota: { val: 5, val_unit: 'mbytes' } }),
  fc.constant({ queue: { num: 3 } }),
  fc.constant({ synproxy: { mss: 1460 } }),
  fc.constant({ tproxy: { family: 'ip', port: 9 } }),
  fc.record({ xt: fc.record({ type: fc.constant('match'), name: fc.string() }) }),
  fc.dictionary(fc.string({ minLength: 1 }), fc.jsonValue(), { minKeys: 1, maxKeys: 1 }),
);
const freshName = fc.string({ minLength: 1, maxLength: 12 }).map((s) => `zz-unknown-${s}`);
const oddVerdict = fc.oneof(
  fc.constant({ queue: { num: 1 } }),
  fc.constant({ accept: null }),
  freshName.map((n) => ({ goto: { target: n } })),
  freshName.map((n) => ({ jump: { target: n } })),
  fc.jsonValue(),
);
const someKey = fc.oneof(
  fc.constant({ concat: ['10.96.0.99', 'tcp', 80] }),
  fc.constant({ concat: ['tcp', 31999] }),
  fc.constant({ concat: ['10.96.0.99', 'gre', 80] }),
  fc.record({ elem: fc.record({ val: fc.constant({ concat: ['10.96.0.98', 'udp', 53] }), comment: fc.string() }) }),
  fc.jsonValue(),
);
/** Map elements of shapes kube-proxy does not write, or going to chains the table does not have. */
const oddElement = fc.oneof(fc.tuple(someKey, oddVerdict), fc.jsonValue());

/** One unknown object and where it goes. */
const nftAddition = fc.oneof(
  fc.record({
    kind: fc.constant('chain' as const),
    name: freshName,
    hook: fc.constantFrom(null, 'nat', 'filter'),
    rules: fc.array(
      fc.array(
        fc.oneof(
          oddStatement,
          freshName.map((n) => ({ jump: { target: n } })),
        ),
        { minLength: 1 },
      ),
    ),
  }),
  fc.record({
    kind: fc.constantFrom('set' as const, 'map' as const),
    name: freshName,
    elem: fc.array(oddElement, { maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('element' as const), into: fc.nat(), elem: oddElement }),
  fc.record({ kind: fc.constant('rule' as const), into: fc.nat(), expr: fc.array(oddStatement, { minLength: 1 }) }),
  fc.record({ kind: fc.constant('item' as const), item: fc.jsonValue() }),
);
type NftAddition = typeof nftAddition extends fc.Arbitrary<infer T> ? T : never;

// biome-ignore lint/suspicious/noExplicitAny: nft's JSON, edited by the generated additions
function add(items: any[], a: NftAddition, at: number): void {
  const family = items.find((i) => i?.table)?.table.family ?? 'ip';
  const put = (x: unknown) => items.splice(at % (items.length + 1), 0, x);
  if (a.kind === 'chain') {
    const hook = a.hook ? { type: a.hook, hook: a.hook === 'nat' ? 'prerouting' : 'input', prio: 0 } : {};
    put({ chain: { family, table: 'kube-proxy', name: a.name, ...hook } });
    for (const expr of a.rules) put({ rule: { family, table: 'kube-proxy', chain: a.name, expr } });
  } else if (a.kind === 'set' || a.kind === 'map') {
    put({ [a.kind]: { family, table: 'kube-proxy', name: a.name, type: 'ipv4_addr', elem: a.elem } });
  } else if (a.kind === 'element') {
    const maps = items.filter((i) => i?.map);
    const m = maps[a.into % maps.length].map;
    m.elem = [...(m.elem ?? []), a.elem];
  } else if (a.kind === 'rule') {
    const chains = items.filter((i) => i?.chain).map((i) => i.chain.name);
    put({ rule: { family, table: 'kube-proxy', chain: chains[a.into % chains.length], expr: a.expr } });
  } else if (a.kind === 'item') {
    put(a.item);
  }
}

const nftTables = ['nft/lab-1.35-node.json', 'nft/lab-1.36-node2.json', 'v6/nft-1.35.json', 'v6/nft-1.36.json'];

for (const file of nftTables) {
  test(`nft ${file}: unknown chains, sets, maps, elements and rules anywhere leave the catalog as it was`, () => {
    const text = read(file);
    const base = said(parseNftCatalog(text));
    assert.ok(base.services.length > 0);
    fc.assert(
      fc.property(fc.array(fc.tuple(nftAddition, fc.nat()), { minLength: 1, maxLength: 6 }), (adds) => {
        const doc = JSON.parse(text);
        for (const [a, at] of adds) add(doc.nftables, a, at);
        const got = parseNftCatalog(JSON.stringify(doc));
        assert.deepEqual(said(got), base);
      }),
      runs,
    );
  });
}

/** Lines no kube-proxy writes in its chains, and chains and tables of other programs. */
const oddRule = fc.oneof(
  fc.constant('-m quota --quota 1000 -j ACCEPT'),
  fc.constant('-m nfacct --nfacct-name zz-unknown'),
  fc.constant('-p tcp -m multiport --dports 80,443 -j LOG'),
  fc.constant('-j RETURN'),
  freshName.map((n) => `-d 10.96.0.99/32 -p tcp -m tcp --dport 80 -j ${n}`),
  freshName.map((n) => `-j ${n}`),
);
const iptAddition = fc.oneof(
  fc.record({ kind: fc.constant('rule' as const), into: fc.nat(), rule: oddRule }),
  fc.record({
    kind: fc.constant('chain' as const),
    name: freshName.map((n) => n.toUpperCase()),
    rules: fc.array(oddRule),
  }),
  fc.record({ kind: fc.constant('table' as const), name: fc.constantFrom('mangle', 'raw', 'security') }),
);

function addLines(text: string, adds: [typeof iptAddition extends fc.Arbitrary<infer T> ? T : never, number][]) {
  const lines = text.split('\n');
  const chains = lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!);
  for (const [a, at] of adds) {
    // Inside *nat ... COMMIT: after the first rule line, before COMMIT.
    const first = lines.findIndex((l) => l.startsWith('-A '));
    const commit = lines.indexOf('COMMIT', first);
    const pos = first + (at % Math.max(1, commit - first));
    if (a.kind === 'rule') lines.splice(pos, 0, `-A ${chains[a.into % chains.length]} ${a.rule}`);
    else if (a.kind === 'chain') lines.splice(pos, 0, `:${a.name} - [0:0]`, ...a.rules.map((r) => `-A ${a.name} ${r}`));
    else lines.push(`*${a.name}`, `:ZZ-${a.name} - [0:0]`, `-A ZZ-${a.name} -j DROP`, 'COMMIT');
  }
  return lines.join('\n');
}

const iptTables: [string, string][] = [
  ['rules-current-kube-proxy.txt', read('rules-current-kube-proxy.txt')],
  ['rules-seed-gke-php-apache.txt', read('rules-seed-gke-php-apache.txt')],
  ['v6/ip6tables-save.txt', read('v6/ip6tables-save.txt')],
  ...(['current', 'legacy'] as const).map((shape): [string, string] => [
    `the lab (${shape})`,
    renderNat(defaultConfig({ nodes: 2, shape }), nodeName(1), { jumps: true }).text,
  ]),
];

for (const [name, text] of iptTables) {
  test(`iptables ${name}: unknown rules, chains and tables anywhere leave the catalog as it was`, () => {
    const base = said(parseNatCatalog(text));
    assert.ok(base.services.length > 0);
    fc.assert(
      fc.property(fc.array(fc.tuple(iptAddition, fc.nat()), { minLength: 1, maxLength: 6 }), (adds) => {
        assert.deepEqual(said(parseNatCatalog(addLines(text, adds))), base);
      }),
      runs,
    );
  });
}

// The filter table as kube-proxy's iptables proxier writes it for a Service without endpoints (ns6/svc6, REJECT) and a
// Local one without endpoints on this node (ns2/svc2, DROP at its external IP, load-balancer IP and NodePort), in the
// forms its unit tests (pkg/proxy/iptables/proxier_test.go) and iptables-save print.
const filter = `*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
-A KUBE-SERVICES -d 172.30.0.46/32 -p tcp -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -d 1.2.3.4/32 -p tcp -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 3001 -j DROP
-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP
COMMIT
`;

test('iptables: the filter table names the Services kube-proxy refuses, beside the nat catalog', () => {
  const nat = read('rules-current-kube-proxy.txt');
  const base = parseNatCatalog(nat);
  const c = parseNatCatalog(filter + nat);
  const refused = c.services.filter((s) => s.noEndpoints);
  const none = { mode: 'None', timeoutSeconds: null, source: 'rules' };
  assert.deepEqual(refused, [
    { service: '1.2.3.4:80/tcp', name: 'ns2/svc2:p80', affinity: none, endpoints: [], noEndpoints: 'drop' },
    { service: '172.30.0.46:80/tcp', name: 'ns6/svc6:p80', affinity: none, endpoints: [], noEndpoints: 'reject' },
    { service: '192.168.99.22:80/tcp', name: 'ns2/svc2:p80', affinity: none, endpoints: [], noEndpoints: 'drop' },
  ]);
  assert.deepEqual(
    c.services.filter((s) => !s.noEndpoints),
    base.services,
    'the routed Services as before; the firewall and health-check rules are not Services',
  );
  assert.deepEqual(c.nodePorts.get('3001/tcp'), {
    name: 'ns2/svc2:p80',
    affinity: none,
    endpoints: [],
    noEndpoints: 'drop',
  });
  assert.ok(!c.nodePorts.has('30000/tcp'), 'the health-check port is no NodePort of a Service');
});

/** An `nft -j` table's objects for kube-proxy's refusals (shaped as nft prints them; rules follow proxier.go). */
function refusals(family: 'ip' | 'ip6', addr: string) {
  const base = { family, table: 'kube-proxy' };
  const key3 = {
    concat: [
      { payload: { protocol: family, field: 'daddr' } },
      { meta: { key: 'l4proto' } },
      { payload: { protocol: 'th', field: 'dport' } },
    ],
  };
  const key2 = { concat: [{ meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }] };
  const ctNew = { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'new' } };
  return [
    { chain: { ...base, name: 'filter-input', type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    { chain: { ...base, name: 'service-endpoints-check' } },
    { chain: { ...base, name: 'nodeport-endpoints-check' } },
    { chain: { ...base, name: 'reject-chain' } },
    {
      map: {
        ...base,
        name: 'no-endpoint-services',
        type: [family === 'ip' ? 'ipv4_addr' : 'ipv6_addr', 'inet_proto', 'inet_service'],
        map: 'verdict',
        elem: [
          [
            { elem: { val: { concat: [addr, 'tcp', 80] }, comment: 'ns6/svc6:p80' } },
            { goto: { target: 'reject-chain' } },
          ],
          [{ elem: { val: { concat: [addr, 'udp', 53] }, comment: 'ns7/svc7:dns' } }, { drop: null }],
        ],
      },
    },
    {
      map: {
        ...base,
        name: 'no-endpoint-nodeports',
        type: ['inet_proto', 'inet_service'],
        map: 'verdict',
        elem: [[{ elem: { val: { concat: ['tcp', 3001] }, comment: 'ns2/svc2:p80' } }, { drop: null }]],
      },
    },
    { rule: { ...base, chain: 'filter-input', expr: [ctNew, { jump: { target: 'nodeport-endpoints-check' } }] } },
    { rule: { ...base, chain: 'filter-input', expr: [ctNew, { jump: { target: 'service-endpoints-check' } }] } },
    {
      rule: {
        ...base,
        chain: 'service-endpoints-check',
        expr: [{ vmap: { key: key3, data: '@no-endpoint-services' } }],
      },
    },
    {
      rule: {
        ...base,
        chain: 'nodeport-endpoints-check',
        expr: [{ vmap: { key: key2, data: '@no-endpoint-nodeports' } }],
      },
    },
    { rule: { ...base, chain: 'reject-chain', expr: [{ reject: null }] } },
  ];
}

test('nftables: no-endpoint-services and no-endpoint-nodeports name the Services kube-proxy refuses', () => {
  for (const [file, family, addr] of [
    ['nft/lab-1.36-node.json', 'ip', '172.30.0.46'],
    ['v6/nft-1.35.json', 'ip6', 'fd00:172:30::46'],
  ] as const) {
    // The lab's own refusal objects out, these in: the refusals below are the only ones.
    const doc = JSON.parse(read(file));
    const ours = new Set(refusals(family, addr).flatMap((i) => (i.chain ? [i.chain.name] : i.map ? [i.map.name] : [])));
    doc.nftables = doc.nftables.filter(
      (i: Record<string, { name?: string; chain?: string }>) =>
        !ours.has(i.chain?.name ?? i.map?.name ?? '') && !ours.has(i.rule?.chain ?? ''),
    );
    const base = parseNftCatalog(JSON.stringify(doc));
    doc.nftables.push(...refusals(family, addr));
    const c = parseNftCatalog(JSON.stringify(doc));
    assert.deepEqual(c.skipped, []);
    const none = { mode: 'None', timeoutSeconds: null, source: 'rules' };
    const key = family === 'ip6' ? `[${addr}]` : addr;
    assert.deepEqual(
      c.services.filter((s) => s.noEndpoints),
      [
        { service: `${key}:53/udp`, name: 'ns7/svc7:dns', affinity: none, endpoints: [], noEndpoints: 'drop' },
        { service: `${key}:80/tcp`, name: 'ns6/svc6:p80', affinity: none, endpoints: [], noEndpoints: 'reject' },
      ],
      file,
    );
    assert.deepEqual(
      c.services.filter((s) => !s.noEndpoints),
      base.services,
      file,
    );
    assert.deepEqual(c.nodePorts.get('3001/tcp'), {
      name: 'ns2/svc2:p80',
      affinity: none,
      endpoints: [],
      noEndpoints: 'drop',
    });
  }
});

// A LoadBalancer Service with two ingress IPs and loadBalancerSourceRanges, in the form kube-proxy's iptables proxier
// writes it (its TestLoadBalancer: KUBE-FW-* admits the ranges, and the ingress IPs since a range holds the node's IP,
// on to KUBE-EXT-*; KUBE-PROXY-FIREWALL drops the rest in the filter table).
const loadBalancer = `*filter
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-PROXY-FIREWALL -m comment --comment "ns1/svc1:p80 traffic not accepted by KUBE-FW-XPGD46QRK7WJZT7O" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP
-A KUBE-PROXY-FIREWALL -m comment --comment "ns1/svc1:p80 traffic not accepted by KUBE-FW-XPGD46QRK7WJZT7O" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP
COMMIT
*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXT-XPGD46QRK7WJZT7O - [0:0]
:KUBE-FW-XPGD46QRK7WJZT7O - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-FW-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-EXT-XPGD46QRK7WJZT7O -m comment --comment "masquerade traffic for ns1/svc1:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-XPGD46QRK7WJZT7O -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-FW-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 192.168.0.0/24 -j KUBE-EXT-XPGD46QRK7WJZT7O
-A KUBE-FW-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-XPGD46QRK7WJZT7O
-A KUBE-FW-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 1.2.3.4 -j KUBE-EXT-XPGD46QRK7WJZT7O
-A KUBE-FW-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 5.6.7.8 -j KUBE-EXT-XPGD46QRK7WJZT7O
-A KUBE-FW-XPGD46QRK7WJZT7O -m comment --comment "other traffic to ns1/svc1:p80 will be dropped by KUBE-PROXY-FIREWALL"
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
COMMIT
`;

test('iptables: load-balancer IPs through KUBE-FW-* are frontends of the Service; its firewall is no refusal', () => {
  const c = parseNatCatalog(loadBalancer);
  const row = (service: string) => ({
    service,
    name: 'ns1/svc1:p80',
    affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
    endpoints: ['10.180.0.1:80'],
  });
  assert.deepEqual(c.services, [row('1.2.3.4:80/tcp'), row('172.30.0.41:80/tcp'), row('5.6.7.8:80/tcp')]);
  assert.deepEqual(c.nodePorts.get('3001/tcp')?.name, 'ns1/svc1:p80');
  assert.deepEqual(c.skipped, []);
});

test('iptables: the nfacct counter rules kube-proxy adds for localhost NodePorts change nothing the reader says', () => {
  for (const k of [0, 1]) {
    const render = (nfacct: boolean) =>
      renderNat(defaultConfig({ nodes: 2 }), nodeName(k), { jumps: true, nfacct }).text;
    const counted = render(true);
    assert.match(
      counted,
      /-A KUBE-NODEPORTS -d 127\.0\.0\.0\/8 .* -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-/,
    );
    assert.deepEqual(said(parseNatCatalog(counted)), said(parseNatCatalog(render(false))));
    assert.deepEqual(parseNatCatalog(counted).skipped, []);
  }
});
