// IPv6 end to end on the dual-stack lab, in iptables mode and both nftables shapes: a real agent on the node and a
// real report over TLS. Ground truth: the backends' logs (each connection's client socket and the backend address it
// reached) and the kernel's `conntrack -E -f ipv6`. Every IPv6 connection must be named with its Service and the
// backend that logged it; the dual-stack Service is one report row with both addresses and its selections split by
// family; the IPv6-only Service, its NodePort at the node's IPv6 address and an IPv6 UDP Service are counted as the
// logs count them; ClientIP affinity holds over IPv6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents, startReportCli } from '../helpers/agents.js';
import { backendOf } from '../helpers/lab-fixture.js';
import { watchConntrack } from '../helpers/conntrack-events.js';
import { defaultConfig, runClient, type ClientResult, type Lab } from '../../src/lab/lab.js';
import type { ProxySetup } from '../../src/lab/config.js';
import type { Report } from '../../src/report/types.js';

const DUAL = 'lab/dual:http';
const DNS = 'lab/dual-dns:dns';
const WEB6 = 'lab/web6:http';

const setups: { label: string; setup: ProxySetup }[] = [
  { label: 'iptables', setup: { proxyMode: 'iptables' } },
  { label: 'nftables 1.35', setup: { proxyMode: 'nftables', kubeVersion: '1.35' } },
  { label: 'nftables 1.36', setup: { proxyMode: 'nftables', kubeVersion: '1.36' } },
];

/** Each result's backend address ("ip:port", "[v6]:port") as its backend logged it; answers must agree. */
async function loggedBackends(lab: Lab, results: ClientResult[]): Promise<string[]> {
  const lines = await backendOf(lab, results);
  return results.map((r) => {
    const line = lines.get(r);
    assert.ok(line, `${r.client} ${r.local} -> ${r.target}: no backend logged it (${r.answer ?? r.error})`);
    assert.equal(r.answer, line.backend, `${r.local}: answered ${r.answer}, logged by ${line.backend}`);
    return line.local;
  });
}

function tally(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of [...keys].sort()) out[k] = (out[k] ?? 0) + 1;
  return out;
}

/** Selections per backend address of a report row, without the idle ones. */
function bySelections(row: Report['services'][number]): Record<string, number> {
  return Object.fromEntries(
    row.backends
      .filter((b) => b.selections > 0)
      .map((b) => [b.backend, b.selections])
      .sort(),
  );
}

const bare = (client: string) => client.replace(/^\[|\]$/g, '');

for (const { label, setup } of setups) {
  test(`${label}: IPv6 and dual-stack Services named end to end, as the backends and conntrack saw them`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const config = defaultConfig({ ...setup, nodes: 1, ipFamilies: ['IPv4', 'IPv6'] });
    config.services = config.services.filter((s) =>
      [DUAL, DNS, WEB6].includes(`${s.namespace}/${s.name}:${s.portName}`),
    );
    const { lab, agents } = await startLabWithAgents(t, config);
    const ct = await watchConntrack(lab.nodes[0]!, 'ipv6');
    t.after(() => ct.kill());
    const report = await startReportCli(t, agents);

    const dual6 = await runClient(lab, 'c1', { service: DUAL, mode: 'http', count: 6, family: 'IPv6' });
    const dual4 = await runClient(lab, 'c2', { service: DUAL, mode: 'http', count: 6, family: 'IPv4' });
    const web6 = await runClient(lab, 'c3', { service: WEB6, mode: 'http', count: 9 });
    const dns6 = await runClient(lab, 'c1', { service: DNS, mode: 'udp-sessions', count: 6, family: 'IPv6' });
    const node6 = await runClient(lab, 'x1', {
      service: WEB6,
      mode: 'http',
      count: 4,
      via: 'nodePort',
      family: 'IPv6',
    });
    const v6Runs = [dual6, web6, dns6, node6];
    const v6Results = v6Runs.flat();
    const events = await ct.stop(v6Results.length);
    await report.waitForDnat(v6Results.length + dual4.length);
    const r = await report.finish();
    assert.equal(r.lostEvents, 0);

    // Ground truth: every IPv6 connection the clients made, the backend that logged it, and conntrack's NEW entry.
    const v6Backends = (await Promise.all(v6Runs.map((x) => loggedBackends(lab, x)))).flat();
    for (const [i, res] of v6Results.entries()) {
      assert.ok(res.local.startsWith('[fd00:'), `${res.local}: an IPv6 client socket`);
      const e = events.find((x) => x.client === res.local && x.service === res.target);
      assert.ok(e, `conntrack saw no NEW entry for ${res.local} -> ${res.target}`);
      assert.equal(e.backend, v6Backends[i], `${res.local} -> ${res.target}: conntrack and the backend's log agree`);
    }
    assert.equal(
      events.filter((e) => e.service.startsWith('[fd00:96::') || e.service.endsWith(':30086')).length,
      v6Results.length,
      'one conntrack entry per IPv6 connection or socket: nothing else went through the Services',
    );

    // The dual-stack Service: one row, both addresses, its selections split by the family they came in.
    const dualRows = r.services.filter((s) => s.name === DUAL);
    assert.equal(dualRows.length, 1, `one row for ${DUAL}; got ${dualRows.map((s) => s.service).join(', ')}`);
    const dual = dualRows[0]!;
    assert.deepEqual(dual.addresses, ['10.96.0.14:80/tcp', '[fd00:96::14]:80/tcp']);
    assert.deepEqual(dual.families, { ipv4: 6, ipv6: 6 });
    assert.equal(dual.selections, 12);
    const dual4Backends = await loggedBackends(lab, dual4);
    assert.deepEqual(
      bySelections(dual),
      tally([...v6Backends.slice(0, dual6.length), ...dual4Backends]),
      'selections per backend address as the backends logged them',
    );
    // ClientIP over IPv6: c1 held to one pod; its pairs within its family.
    const c1 = dual.clients.find((c) => bare(c.client) === lab.clients[0]!.ip6);
    assert.ok(c1, `c1's IPv6 address among ${dual.clients.map((c) => c.client).join(', ')}`);
    assert.equal(c1.selections, 6);
    assert.equal(c1.stickiness, 1);
    assert.equal(dual.affinityVerdicts.violation, 0);
    assert.equal(dual.affinityVerdicts.held, 10, 'five held pairs per client, one client per family');

    // The IPv6-only Service, its NodePort at the node's IPv6 address, and the UDP Service over IPv6.
    const web6Row = r.services.find((s) => s.service === '[fd00:96::15]:80/tcp');
    assert.ok(web6Row, `${WEB6} by its IPv6 address; rows: ${r.services.map((s) => s.service).join(', ')}`);
    assert.equal(web6Row.name, WEB6);
    const at = (res: ClientResult[]) =>
      v6Backends.slice(v6Results.indexOf(res[0]!), v6Results.indexOf(res[0]!) + res.length);
    // Its NodePort at the node's IPv6 address is a frontend of the same row, its selections counted apart.
    assert.deepEqual(bySelections(web6Row), tally([...at(web6), ...at(node6)]));
    assert.deepEqual(Object.fromEntries((web6Row.frontends ?? []).map((f) => [f.address, f.selections])), {
      '[fd00:96::15]:80/tcp': web6.length,
      [`[${lab.nodeIP6(0)}]:30086/tcp`]: node6.length,
    });
    const dns = r.services.find((s) => s.name === DNS);
    assert.ok(dns, `${DNS} in the report`);
    assert.deepEqual(dns.families, { ipv4: 0, ipv6: 6 });
    assert.deepEqual(bySelections(dns), tally(at(dns6)));
    t.diagnostic(
      `IPv6: ${v6Results.length} connections/sockets, ${events.length} conntrack NEW; ${DUAL} ${JSON.stringify(dual.families)}`,
    );
  });
}
