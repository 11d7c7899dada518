// A scenario's lab over IPv6 (overFamily): a valid dual-stack lab whose Services are the IPv6-only twins of the
// IPv4 plan (same names, ports, affinity, pods); client c1's extra sources twinned, each in a routed /64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { validateConfig } from '../../src/lab/config.js';
import { v6Twin } from '../../src/lab/ip-family.js';
import { planTopology } from '../../src/lab/topology.js';
import { scenarios } from '../../src/scenarios/index.js';
import { overFamily } from '../../src/scenarios/family.js';

for (const setup of [
  { proxyMode: 'iptables' as const },
  { proxyMode: 'nftables' as const, kubeVersion: '1.36' as const },
])
  test(`overFamily IPv6 (${setup.proxyMode}): every scenario's Services are the IPv6-only twins of its IPv4 ones`, () => {
    for (const s of scenarios) {
      const v4 = s.config(setup);
      const before = structuredClone(v4);
      assert.deepEqual(overFamily(v4, 'IPv4'), v4, `${s.name}: IPv4 is the scenario's own lab`);
      const v6 = overFamily(v4, 'IPv6');
      assert.deepEqual(v4, before, `${s.name}: the IPv4 config is left as it was`);
      validateConfig(v6);
      assert.deepEqual(v6.ipFamilies, ['IPv4', 'IPv6']);
      assert.equal(v6.services.length, v4.services.length);
      v6.services.forEach((svc, i) => {
        const old = v4.services[i]!;
        assert.equal(svc.clusterIP, v6Twin(old.clusterIP), `${s.name} ${svc.name}`);
        assert.ok(isIPv6(svc.clusterIP));
        assert.equal(svc.clusterIPs, undefined, 'one family: IPv6 only');
        assert.deepEqual(
          svc.endpoints,
          old.endpoints.map((e) => ({ ...e, ip: v6Twin(e.ip) })),
        );
        const { clusterIP: _a, endpoints: _b, ...rest } = svc;
        const { clusterIP: _c, endpoints: _d, ...restOld } = old;
        assert.deepEqual(rest, restOld, `${s.name} ${svc.name}: ports, affinity, NodePort unchanged`);
      });
    }
  });

test('a dual-stack lab twins client c1 extra sources, one /64 per third octet', () => {
  const c = overFamily(
    scenarios.find((s) => s.name === 'affinity-overflow')!.config({ proxyMode: 'iptables' }),
    'IPv6',
  );
  c.extraSources = 300; // 10.0.252.1 .. 10.0.253.44: two /24s
  const c1 = planTopology('t', c).leaves.find((l) => l.name === 'c1')!;
  assert.equal(c1.extra.length, 300);
  assert.deepEqual(
    c1.extra6,
    c1.extra.map((ip) => v6Twin(ip)),
  );
  assert.equal(c1.extra6![0], 'fd00:0:252::1');
  assert.equal(c1.extra6![299], 'fd00:0:253::44');
  const v4Only = planTopology('t', { ...c, ipFamilies: ['IPv4'], services: [] });
  assert.equal(v4Only.leaves.find((l) => l.name === 'c1')!.extra6, undefined, 'an IPv4 lab has no IPv6 sources');
});
