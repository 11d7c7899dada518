// The dual-stack lab (ipFamilies IPv4 and IPv6), two nodes, in iptables mode and both nftables shapes: every IPv6 and
// IPv4 request reaches a backend of its Service over its own family (the backends' logs, which see the client's real
// address), ClientIP affinity holds over IPv6 as the kernel's own state shows (the xt_recent list or the ipv6_addr
// set holds the client), NodePort Local over IPv6 stays on the node's own pods, an IPv6 endpoint removed with
// setEndpoints gets no more connections, and lab down leaves no namespace behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { requireRoot } from '../helpers/env.js';
import { backendOf, netnsNames, startLab } from '../helpers/lab-fixture.js';
import { defaultConfig, labDown, runClient, setEndpoints, type ClientResult, type Lab } from '../../src/lab/lab.js';
import type { ProxySetup } from '../../src/lab/config.js';
import { endpointChains } from '../../src/kube-proxy/iptables-render.js';
import { nftEndpointChains } from '../../src/kube-proxy/nft-render.js';

const DUAL = 'lab/dual:http';
const WEB6 = 'lab/web6:http';

const setups: { label: string; setup: ProxySetup }[] = [
  { label: 'iptables', setup: { proxyMode: 'iptables' } },
  { label: 'nftables 1.35', setup: { proxyMode: 'nftables', kubeVersion: '1.35' } },
  { label: 'nftables 1.36', setup: { proxyMode: 'nftables', kubeVersion: '1.36' } },
];

/** Backend pod of each result as its log shows it; the answer, the family and the backend's address must agree. */
async function podsOf(lab: Lab, results: ClientResult[], v6: boolean): Promise<string[]> {
  assert.ok(results.length > 0, 'the client made requests');
  const lines = await backendOf(lab, results);
  return results.map((r) => {
    const line = lines.get(r);
    assert.ok(line, `${r.client} ${r.local} -> ${r.target}: no backend logged it (${r.answer ?? r.error})`);
    assert.equal(r.answer, line.backend, `${r.local}: answered ${r.answer}, logged by ${line.backend}`);
    const b = lab.backends.find((x) => x.name === line.backend)!;
    assert.equal(line.local, v6 ? `[${b.ip6}]:8080` : `${b.ip}:8080`, `${r.local} reached ${b.name} over its family`);
    assert.equal(r.local.startsWith('['), v6, `${r.local}: the client's own ${v6 ? 'IPv6' : 'IPv4'} address`);
    return line.backend;
  });
}

/** The clients each of the Service's IPv6 endpoints pins now, read from the kernel in node 1's namespace. */
function pinnedV6(lab: Lab, service: string): Map<string, string[]> {
  const svc = lab.services.find((s) => s.serviceName === service)!;
  const v6 = { ...svc, endpoints: svc.endpoints.filter((e) => e.ip.includes(':')) };
  const inNode = (cmd: string, args: string[]) =>
    execFileSync('ip', ['netns', 'exec', lab.nodes[0]!, cmd, ...args], { encoding: 'utf8' });
  const out = new Map<string, string[]>();
  if (lab.config.proxyMode !== 'nftables') {
    for (const [chain, e] of endpointChains(v6)) {
      const text = inNode('cat', [`/proc/net/xt_recent/${chain}`]);
      out.set(
        e.pod,
        // xt_recent prints IPv6 uncompressed (fd00:0000:0001:...): compared in the kernel's usual short form.
        [...text.matchAll(/^src=(\S+) /gm)].map((m) => new URL(`http://[${m[1]}]/`).hostname.slice(1, -1)),
      );
    }
    return out;
  }
  const sets = JSON.parse(inNode('nft', ['-j', 'list', 'sets', 'table', 'ip6', 'kube-proxy'])).nftables as {
    set?: { name: string; type: string; elem?: { elem: { val: string } }[] };
  }[];
  for (const [chain, e] of nftEndpointChains(lab.config, v6)) {
    const set = sets.find((x) => x.set?.name === chain.replace(/^endpoint-/, 'affinity-'))?.set;
    assert.ok(set, `affinity set of ${chain}`);
    assert.equal(set.type, 'ipv6_addr');
    out.set(
      e.pod,
      (set.elem ?? []).map((x) => x.elem.val),
    );
  }
  return out;
}

for (const { label, setup } of setups) {
  test(`dual-stack lab (${label}): both families reach their backends; IPv6 affinity, NodePort Local and endpoints`, {
    timeout: 90_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const lab = await startLab(t, defaultConfig({ ...setup, nodes: 2, ipFamilies: ['IPv4', 'IPv6'] }));
    const c1 = lab.clients.find((c) => c.name === 'c1')!;
    assert.match(c1.ip6 ?? '', /^fd00:/);
    for (const b of lab.backends) assert.match(b.ip6 ?? '', /^fd00:/);

    // The dual-stack Service over each family, and the IPv6-only one.
    const dual6 = await runClient(lab, 'c1', { service: DUAL, mode: 'http', count: 6, family: 'IPv6' });
    const dual4 = await runClient(lab, 'c1', { service: DUAL, mode: 'http', count: 6, family: 'IPv4' });
    const web6 = await runClient(lab, 'c2', { service: WEB6, mode: 'http', count: 12 });
    const pods6 = await podsOf(lab, dual6, true);
    const pods4 = await podsOf(lab, dual4, false);
    const podsWeb6 = await podsOf(lab, web6, true);
    assert.equal(new Set(pods6).size, 1, `ClientIP holds c1 over IPv6: ${pods6}`);
    assert.equal(new Set(pods4).size, 1, `ClientIP holds c1 over IPv4: ${pods4}`);
    assert.ok(new Set(podsWeb6).size >= 2, `no affinity on ${WEB6}: ${podsWeb6}`);
    for (const r of dual6) assert.equal(r.target, '[fd00:96::14]:80');
    for (const r of web6) assert.equal(r.target, '[fd00:96::15]:80');

    // The kernel's affinity state names c1's IPv6 address under the pod it was held to, and nowhere else.
    const pinned = pinnedV6(lab, DUAL);
    const holders = [...pinned].filter(([, clients]) => clients.includes(c1.ip6!)).map(([pod]) => pod);
    assert.deepEqual(holders, [pods6[0]], `c1's IPv6 entry: ${JSON.stringify([...pinned])}`);

    // NodePort, externalTrafficPolicy Local, over IPv6 at each node's own IPv6 address: only that node's pods.
    for (const node of [0, 1]) {
      const r = await runClient(lab, 'x1', {
        service: WEB6,
        mode: 'http',
        count: 8,
        via: 'nodePort',
        node,
        family: 'IPv6',
      });
      assert.equal(r[0]!.target, `[${lab.nodeIP6(node)}]:30086`);
      const pods = await podsOf(lab, r, true);
      const local = lab.backends.filter((b) => b.node === lab.nodes[node]).map((b) => b.name);
      for (const p of pods) assert.ok(local.includes(p), `node ${node + 1} sent x1 to ${p}; its pods: ${local}`);
    }

    // Removing the IPv6 endpoint c1 is held to: it gets no more connections, the IPv4 one stays.
    const svc = lab.services.find((s) => s.serviceName === DUAL)!;
    const gone = lab.backends.find((b) => b.name === pods6[0])!;
    await setEndpoints(
      lab,
      DUAL,
      svc.endpoints.filter((e) => e.ip !== gone.ip6),
    );
    const after = await podsOf(
      lab,
      await runClient(lab, 'c1', { service: DUAL, mode: 'http', count: 8, family: 'IPv6' }),
      true,
    );
    assert.ok(!after.includes(gone.name), `${gone.name}'s IPv6 endpoint was removed; still reached: ${after}`);
    assert.ok(
      lab.services.find((s) => s.serviceName === DUAL)!.endpoints.some((e) => e.ip === gone.ip),
      'its IPv4 endpoint stays',
    );
    t.diagnostic(
      `dual IPv6 -> ${pods6[0]}, IPv4 -> ${pods4[0]}; web6 -> ${[...new Set(podsWeb6)]}; after removal ${[...new Set(after)]}`,
    );

    await labDown(lab.prefix);
    assert.deepEqual(
      netnsNames().filter((n) => n.startsWith(`${lab.prefix}-`)),
      [],
      'lab down removed every namespace (and with them the ip6 rules and tables)',
    );
  });
}
