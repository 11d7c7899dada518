// The nftables-mode parser on `nft -j list table ip kube-proxy` dumps of the lab's two-node default config (both
// shapes, test/fixtures/nft/): it must give the catalog the iptables parser gives for the same Services (that parser is
// checked against real seed dumps), and skip what it does not understand, naming it, keeping the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ipvsInLink, ipvsInRules } from '../../src/kube-proxy/ipvs.js';
import { NftParseError, parseNftCatalog } from '../../src/kube-proxy/nft-parse.js';
import { parseNatCatalog, type NatCatalog } from '../../src/kube-proxy/iptables-parse.js';
import { RulesWatcher } from '../../src/agent/rules-watch.js';
import { defaultConfig, nodeName } from '../../src/lab/config.js';
import { renderNat } from '../../src/kube-proxy/iptables-render.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/nft/${name}`, import.meta.url), 'utf8');

/** Services and NodePorts with endpoint order left out (the two modes list endpoints in their own orders). */
function comparable(c: NatCatalog) {
  const ordered = <T extends { endpoints: string[] }>(x: T) => ({ ...x, endpoints: [...x.endpoints].sort() });
  const nodePorts = [...c.nodePorts].sort(([a], [b]) => (a < b ? -1 : 1));
  return { services: c.services.map(ordered), nodePorts: nodePorts.map(([k, v]) => [k, ordered(v)]) };
}

for (const version of ['1.35', '1.36']) {
  for (const k of [0, 1]) {
    const file = `lab-${version}-${nodeName(k)}.json`;
    test(`${file}: the catalog iptables mode gives for the same Services`, () => {
      const nft = parseNftCatalog(fixture(file));
      const ipt = parseNatCatalog(renderNat(defaultConfig({ nodes: 2 }), nodeName(k), { jumps: true }).text);
      assert.equal(nft.mode, 'nftables');
      assert.equal(nft.services.length, 9, 'seven cluster IPs, and lab/lb:http at its load-balancer and external IPs');
      assert.deepEqual(nft.skipped, []);
      assert.deepEqual(comparable(nft), comparable(ipt));
      // The Service without endpoints is rejected on both nodes; the Local one with its pod on node 1 is dropped at
      // node 2's NodePort.
      assert.equal(nft.services.find((s) => s.name === 'lab/empty:http')?.noEndpoints, 'reject');
      assert.equal(nft.nodePorts.get('30090/tcp')?.noEndpoints, 'reject');
      assert.equal(nft.nodePorts.get('30091/tcp')?.noEndpoints, k === 0 ? undefined : 'drop');
      // The load-balancer IP and the external IP name the Service; firewall-ips goes to a firewall chain, no route.
      for (const ip of ['10.5.0.22', '10.5.1.22'])
        assert.equal(nft.services.find((s) => s.service === `${ip}:80/tcp`)?.name, 'lab/lb:http', ip);
      const sticky = nft.services.find((s) => s.name === 'lab/sticky:http')!;
      assert.deepEqual(sticky.affinity, { mode: 'ClientIP', timeoutSeconds: 10, source: 'rules' });
    });

    test(`${file}: each affinity set belongs to the endpoint its name carries`, () => {
      const c = parseNftCatalog(fixture(file));
      assert.equal(c.lists.size, 8, 'four endpoints each for lab/sticky:http and lab/dns:dns');
      for (const [name, list] of c.lists) {
        const m = /^affinity-[A-Z2-7]{8}-lab\/(sticky|dns)\/(tcp|udp)\/\w+__([\d.]+)\/(\d+)$/.exec(name);
        assert.ok(m, name);
        assert.equal(list.endpoint, `${m[3]}:${m[4]}`);
        assert.equal(list.service, m[1] === 'sticky' ? '10.96.0.11:80/tcp' : '10.96.0.12:53/udp');
        assert.equal(list.timeoutSeconds, 10);
        assert.equal(list.size, 65535, 'no size declared: the kernel cap');
      }
    });
  }
}

/** The fixture with `edit` applied to its parsed JSON. */
// biome-ignore lint/suspicious/noExplicitAny: parsed nft JSON, edited by path; its shape is what these tests check
function edited(file: string, edit: (items: Record<string, any>[]) => void): string {
  const doc = JSON.parse(fixture(file));
  edit(doc.nftables);
  return JSON.stringify(doc);
}

test('output that is not nft JSON is refused; objects not understood are skipped, named, the rest kept', () => {
  const whole = fixture('lab-1.36-node.json');
  assert.throws(
    () => parseNftCatalog(whole.slice(0, whole.length / 2)),
    (e: Error) => {
      assert.ok(e instanceof NftParseError);
      assert.match(e.message, /not JSON/);
      return true;
    },
  );
  assert.throws(() => parseNftCatalog('{"nftables": 3}'), /expected an object with an "nftables" array/);
  const good = parseNftCatalog(whole);
  assert.deepEqual(good.skipped, []);
  // A newer kube-proxy's statement in a service chain: that rule is skipped (1.36's web DNATs in it: no endpoints).
  const unknown = edited('lab-1.36-node.json', (items) => {
    const r = items.find((i) => i.rule?.chain.startsWith('service-') && i.rule.chain.includes('lab/web'));
    r!.rule.expr.unshift({ quota: { val: 5, val_unit: 'mbytes' } });
  });
  const q = parseNftCatalog(unknown);
  assert.match(
    q.skipped!.join('\n'),
    /chain service-[A-Z2-7]{8}-lab\/web\/tcp\/http: a rule with an unknown statement \{"quota"/,
  );
  assert.deepEqual(
    q.services.filter((s) => s.name !== 'lab/web:http'),
    good.services.filter((s) => s.name !== 'lab/web:http'),
  );
  assert.deepEqual(q.services.find((s) => s.name === 'lab/web:http')?.endpoints, []);
  // Read while the rules changed: an endpoint chain the service chain goes to is not in the dump.
  const partial = edited('lab-1.35-node.json', (items) => {
    const i = items.findIndex((x) => x.chain?.name.startsWith('endpoint-') && x.chain.name.includes('lab/sticky'));
    items.splice(i, 1);
  });
  const p = parseNftCatalog(partial);
  assert.match(
    p.skipped!.join('\n'),
    /goes to chain endpoint-[A-Z2-7]{8}-lab\/sticky\/tcp\/http__[\d./]+, which the table does not have/,
  );
  assert.equal(p.services.length, 9);
  // A set a rule names is missing.
  const noSet = edited('lab-1.35-node.json', (items) => {
    const i = items.findIndex((x) => x.set?.name.startsWith('affinity-'));
    items.splice(i, 1);
  });
  const n = parseNftCatalog(noSet);
  assert.match(n.skipped!.join('\n'), /names set @affinity-/);
  assert.equal(n.services.length, 9);
});

test('firewall-ips and its firewall chains are no route nor refusal, commented or not, in any shape of the chain', () => {
  const base = parseNftCatalog(fixture('lab-1.36-node.json'));
  // A commented element (as knftables writes one with a Comment) and a firewall chain kube-proxy might write otherwise:
  // the catalog is the same, and nothing is skipped (the reader does not need them).
  const changed = parseNftCatalog(
    edited('lab-1.36-node.json', (items) => {
      const fw = items.find((i) => i.map?.name === 'firewall-ips')!.map;
      fw.elem = fw.elem.map(([key, verdict]: unknown[]) => [{ elem: { val: key, comment: 'lab/lb:http' } }, verdict]);
      const rule = items.find((i) => i.rule?.chain.startsWith('firewall-') && i.rule.chain !== 'firewall-check')!;
      rule.rule.expr.unshift({ counter: { packets: 0, bytes: 0 } });
    }),
  );
  assert.deepEqual(changed.skipped, []);
  assert.deepEqual(changed.services, base.services);
  assert.equal(base.services.find((s) => s.service === '10.5.0.22:80/tcp')?.noEndpoints, undefined);
});

test('a read not understood keeps the previous catalog, and is tried again (the warning is said once by the poller)', async () => {
  let text = fixture('lab-1.35-node.json');
  const changes: NatCatalog[] = [];
  const w = new RulesWatcher(
    async () => ({ mode: 'nftables', text }),
    (c) => changes.push(c),
  );
  await w.poll();
  const good = w.current;
  assert.equal(good?.services.length, 9);
  text = text.slice(0, 1000);
  await assert.rejects(() => w.poll(), NftParseError);
  assert.equal(w.current, good, 'the previous catalog stays');
  // Not remembered as read: the next read parses it again (a watermark must not vouch for rules it could not read).
  await assert.rejects(() => w.poll(), NftParseError);
  assert.equal(w.failing, true);
  assert.equal(changes.length, 1);
  text = fixture('lab-1.36-node.json');
  await w.poll();
  assert.equal(changes.length, 1, 'same Services in the other shape: no new catalog');
});

test('IPVS mode is recognised from its nat rules and its dummy interface', () => {
  const nat =
    '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT';
  assert.match(ipvsInRules(nat) ?? '', /KUBE-CLUSTER-IP ipset/);
  assert.equal(ipvsInRules(renderNat(defaultConfig(), 'node', { jumps: true }).text), null);
  const link =
    '5: kube-ipvs0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN\n    link/ether 2a:b3:1c:4d:5e:6f brd ff:ff:ff:ff:ff:ff promiscuity 0\n    dummy addrgenmode eui64';
  assert.match(ipvsInLink(link) ?? '', /kube-ipvs0 interface/);
  assert.equal(ipvsInLink(''), null);
});
