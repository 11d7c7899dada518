// The dual-stack lab's pure parts: the IPv6 address plan (printed as the kernel prints addresses), "ip:port" text with
// IPv6 bracketed, config validation of Service families, and each family's rules naming only that family's addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { defaultConfig, familyView, validateConfig, type LabConfig } from '../../src/lab/config.js';
import { joinHostPort, splitHostPort, v6Twin, v6TwinPrefix } from '../../src/lab/ip-family.js';
import { renderNat } from '../../src/kube-proxy/iptables-render.js';
import { renderNft } from '../../src/kube-proxy/nft-render.js';
import { InputError } from '../../src/core/errors.js';

/** RFC 5952, as sockets print it (WHATWG URL serialises IPv6 hosts that way). */
const canonical = (ip: string) => new URL(`http://[${ip}]/`).hostname.slice(1, -1);

test('v6Twin: fd00:A:B::C, valid and in the form the kernel prints', () => {
  for (const [v4, v6] of [
    ['10.0.1.2', 'fd00:0:1::2'],
    ['10.1.3.2', 'fd00:1:3::2'],
    ['10.96.0.14', 'fd00:96::14'],
    ['10.3.0.1', 'fd00:3::1'],
    ['10.0.250.1', 'fd00:0:250::1'],
    ['10.4.0.2', 'fd00:4::2'],
  ]) {
    assert.equal(v6Twin(v4!), v6);
    assert.ok(isIPv6(v6!));
    assert.equal(canonical(v6!), v6, `${v6} is already in canonical form`);
  }
  assert.equal(v6TwinPrefix('10.0.1.2'), 'fd00:0:1::/64');
  assert.throws(() => v6Twin('192.168.0.1'), /expects a lab address 10\.A\.B\.C/);
});

test('host:port: IPv6 bracketed both ways; malformed text is refused', () => {
  assert.equal(joinHostPort('10.0.1.2', 80), '10.0.1.2:80');
  assert.equal(joinHostPort('fd00:96::14', 80), '[fd00:96::14]:80');
  assert.deepEqual(splitHostPort('[fd00:96::14]:80'), { host: 'fd00:96::14', port: 80 });
  assert.deepEqual(splitHostPort('10.0.1.2:8080'), { host: '10.0.1.2', port: 8080 });
  for (const bad of ['fd00::1:80', '[fd00::1]', '[fd00::1]:99999', '10.0.0.1', '[zz:]:x', ''])
    assert.equal(splitHostPort(bad), undefined, bad);
});

test('validateConfig: Service families must agree with their addresses and the lab', () => {
  const dual = () => defaultConfig({ ipFamilies: ['IPv4', 'IPv6'] });
  validateConfig(dual());
  const bad: [string, (c: LabConfig) => void, RegExp][] = [
    ['IPv6 Service in an IPv4 lab', (c) => delete c.ipFamilies, /needs a lab with IPv6/],
    ['lab without IPv4', (c) => (c.ipFamilies = ['IPv6']), /ipFamilies must be \['IPv4'\] or/],
    [
      'clusterIPs[0] not clusterIP',
      (c) => (c.services.find((s) => s.name === 'dual')!.clusterIP = '10.96.0.99'),
      /clusterIPs\[0\] must be clusterIP/,
    ],
    [
      'two IPv4 cluster IPs',
      (c) => (c.services.find((s) => s.name === 'dual')!.clusterIPs = ['10.96.0.14', '10.96.0.15']),
      /one cluster IP per family/,
    ],
    [
      'ipFamilies out of order',
      (c) => (c.services.find((s) => s.name === 'dual')!.ipFamilies = ['IPv6', 'IPv4']),
      /ipFamilies must name the families of clusterIPs in order/,
    ],
    [
      'IPv6 endpoint on an IPv4 Service',
      (c) => c.services[0]!.endpoints.push({ ip: 'fd00:1:1::2', port: 8080, pod: 'b1', node: 'node' }),
      /fd00:1:1::2 is IPv6 but the Service is IPv4 only/,
    ],
    ['not an address', (c) => (c.services[0]!.clusterIP = '10.96.0'), /cluster IPs must be IPv4 or IPv6/],
    [
      'a bad IPv6 pod CIDR',
      (c) => (c.clusterCIDR6 = 'fd00::/31; flush ruleset'),
      /clusterCIDR6 must be an IPv6 prefix/,
    ],
    [
      'an IPv4-mapped endpoint',
      (c) =>
        c.services
          .find((s) => s.name === 'dual')!
          .endpoints.push({ ip: '::ffff:10.1.1.2', port: 8080, pod: 'b1', node: 'node' }),
      /is an IPv4-mapped address/,
    ],
    ['ipFamilies not a list', (c) => (c.ipFamilies = 'IPv4' as never), /ipFamilies must be/],
  ];
  for (const [what, change, message] of bad) {
    const c = dual();
    change(c);
    assert.throws(
      () => validateConfig(c),
      (e: Error) => e instanceof InputError && message.test(e.message),
      what,
    );
  }
});

test("each family's rules name only that family's Services and endpoints", () => {
  const c = defaultConfig({ ipFamilies: ['IPv4', 'IPv6'], nodes: 2 });
  const v4 = familyView(c, 'IPv4');
  const v6 = familyView(c, 'IPv6');
  assert.deepEqual(
    v6.services.map((s) => s.name),
    ['dual', 'dual-dns', 'web6'],
  );
  assert.ok(v4.services.every((s) => !s.clusterIP.includes(':') && s.endpoints.every((e) => !e.ip.includes(':'))));
  assert.ok(v6.services.every((s) => s.clusterIP.includes(':') && s.endpoints.every((e) => e.ip.includes(':'))));
  assert.equal(v6.clusterCIDR, 'fd00::/31');

  const ip6 = renderNat(v6, 'node', { jumps: true, family: 'IPv6' }).text;
  assert.match(ip6, /-d fd00:96::14\/128 -p tcp/);
  assert.match(ip6, /-j DNAT --to-destination \[fd00:1:1::2\]:8080/);
  assert.doesNotMatch(ip6, /\d+\.\d+\.\d+\.\d+/, 'no IPv4 address in the ip6tables rules');
  const legacy6 = renderNat({ ...v6, shape: 'legacy' }, 'node', { jumps: true, family: 'IPv6' }).text;
  assert.match(legacy6, /--mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource/);

  for (const kubeVersion of ['1.35', '1.36'] as const) {
    const nft = renderNft({ ...v6, kubeVersion }, 'node', { family: 'IPv6' }).text;
    assert.match(nft, /^add table ip6 kube-proxy/m);
    assert.match(nft, /type ipv6_addr ; flags dynamic,timeout ; timeout 10s ;/);
    assert.match(nft, /update @affinity-[A-Z2-7]{8}-lab\/dual\/tcp\/http__fd00\.1\.1\.\.2\/8080 \{ ip6 saddr \}/);
    assert.doesNotMatch(nft, /\bip (saddr|daddr)\b/, 'only ip6 matches');
  }
  // Node 2's NodePort (Local) goes on to the local policy's chain, which picks among node 2's IPv6 pods only.
  const node2 = renderNft({ ...v6, kubeVersion: '1.36' }, 'node2', { family: 'IPv6' }).text;
  assert.match(node2, /add rule ip6 kube-proxy external-(\S*web6\S*) goto local-\1$/m);
  assert.match(
    node2,
    /add rule ip6 kube-proxy local-\S*web6\S* meta l4proto tcp dnat ip6 addr \. port to numgen random mod 2 map \{ 0 : fd00:1:3::2 \. 8080, 1 : fd00:1:4::2 \. 8080 \}/,
  );
});

test('validateConfig: external IPs, load-balancer IPs and source ranges; familyView keeps each family its own', () => {
  validateConfig(defaultConfig());
  const lb = (c: LabConfig) => c.services.find((s) => s.name === 'lb')!;
  const bad: [string, (c: LabConfig) => void, RegExp][] = [
    ['an external IP that is no address', (c) => (lb(c).externalIPs = ['10.5.1']), /external and load-balancer IPs/],
    ['a load-balancer IP list of numbers', (c) => Object.assign(lb(c), { loadBalancerIPs: [1] }), /a list of strings/],
    ['a range without a length', (c) => (lb(c).loadBalancerSourceRanges = ['10.0.1.0']), /prefixes like/],
    ['a range too long', (c) => (lb(c).loadBalancerSourceRanges = ['10.0.1.0/33']), /prefixes like/],
    ['ranges without load-balancer IPs', (c) => delete lb(c).loadBalancerIPs, /need loadBalancerIPs/],
  ];
  for (const [what, change, message] of bad) {
    const c = defaultConfig();
    change(c);
    assert.throws(
      () => validateConfig(c),
      (e: Error) => e instanceof InputError && message.test(e.message),
      what,
    );
  }
  // A dual-stack LoadBalancer Service: each family's proxier sees its own ingress IPs, external IPs and ranges.
  const c = defaultConfig({ ipFamilies: ['IPv4', 'IPv6'] });
  const dual = c.services.find((s) => s.name === 'dual')!;
  Object.assign(dual, {
    loadBalancerIPs: ['10.5.0.14', 'fd00:5::14'],
    externalIPs: ['fd00:5:1::14'],
    loadBalancerSourceRanges: ['10.0.1.0/24', 'fd00:0:1::/64'],
  });
  validateConfig(c);
  const of = (family: 'IPv4' | 'IPv6') => familyView(c, family).services.find((s) => s.name === 'dual')!;
  assert.deepEqual(
    [of('IPv4').loadBalancerIPs, of('IPv4').externalIPs, of('IPv4').loadBalancerSourceRanges],
    [['10.5.0.14'], [], ['10.0.1.0/24']],
  );
  assert.deepEqual(
    [of('IPv6').loadBalancerIPs, of('IPv6').externalIPs, of('IPv6').loadBalancerSourceRanges],
    [['fd00:5::14'], ['fd00:5:1::14'], ['fd00:0:1::/64']],
  );
  assert.match(
    renderNft(familyView(c, 'IPv6'), 'node', { family: 'IPv6' }).text,
    /ip6 saddr != \{ fd00:0:1::\/64 \} drop/,
  );
});
