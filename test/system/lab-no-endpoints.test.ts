// Issue 24 end to end: the default two-node lab has what most real nodes have, a Service with no endpoints and a
// Local one with its only pod on node 1; the lab writes kube-proxy's whole table for them (iptables mode and both
// nftables shapes), so the kernel refuses as kube-proxy would: connections to the empty Service are rejected (the
// client is refused at once), external ones to the Local Service's NodePort on node 2 dropped (the client waits).
// Two agents and `report --agent` (TLS) then name every Service, match the selections against the backends' logs, and
// mark the empty Service as refused on both nodes: the catalog is not dropped for the objects around it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents, startReportCli } from '../helpers/agents.js';
import { backendOf } from '../helpers/lab-fixture.js';
import { defaultConfig, runClient, type KubeVersion, type ProxyMode } from '../../src/lab/lab.js';
import { servicePortName } from '../../src/kube-proxy/model.js';

const MODES: { proxyMode: ProxyMode; kubeVersion?: KubeVersion }[] = [
  { proxyMode: 'iptables' },
  { proxyMode: 'nftables', kubeVersion: '1.35' },
  { proxyMode: 'nftables', kubeVersion: '1.36' },
];

/** Lets the last events through the probe, the agents and the merge's reorder delay. */
const settle = () => new Promise((r) => setTimeout(r, 1500));

for (const mode of MODES) {
  const label = mode.proxyMode === 'iptables' ? 'iptables mode' : `nftables mode ${mode.kubeVersion}`;
  test(`a Service without endpoints is refused as kube-proxy refuses it, and reported so (${label})`, {
    timeout: 180_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const config = defaultConfig({ nodes: 2, ...mode });
    const { lab, agents } = await startLabWithAgents(t, config);
    const report = await startReportCli(t, agents);

    // Rejected: refused at once (an ICMP error), at the cluster IP and at a node's NodePort; no backend saw them.
    const empty = [
      ...(await runClient(lab, 'c1', { service: 'lab/empty:http', mode: 'http', count: 5 })),
      ...(await runClient(lab, 'x1', { service: 'lab/empty:http', mode: 'http', count: 3, via: 'nodePort' })),
    ];
    assert.equal(empty.length, 8);
    for (const r of empty) {
      assert.equal(r.answer, null, `${r.target} answered by ${r.answer}`);
      assert.match(r.error ?? '', /ECONNREFUSED/, `${r.target}: ${r.error}`);
      assert.ok(r.ms < 1000, `${r.target} refused after ${r.ms} ms, not at once`);
    }
    // Dropped: node 2 has no pod of the Local Service, so an external client waits at its NodePort; node 1 answers.
    const dropped = await runClient(lab, 'x1', {
      service: 'lab/solo:http',
      mode: 'http',
      count: 2,
      via: 'nodePort',
      node: 1,
      timeoutMs: 700,
    });
    for (const r of dropped) assert.match(r.error ?? '', /no answer within 700 ms/, `${r.target}: ${r.answer}`);
    const solo = await runClient(lab, 'x1', { service: 'lab/solo:http', mode: 'http', count: 5, via: 'nodePort' });
    const web = await runClient(lab, 'c1', { service: 'lab/web:http', mode: 'http', count: 40 });
    const sticky = await runClient(lab, 'c2', { service: 'lab/sticky:http', mode: 'http', count: 10 });
    const logs = await backendOf(lab, [...empty, ...solo, ...web, ...sticky]);
    for (const r of empty) assert.equal(logs.get(r), undefined, 'no backend saw a refused connection');
    for (const r of [...solo, ...web, ...sticky])
      assert.equal(r.answer, logs.get(r)?.backend, `${r.target} ${r.local}: answer and backend log agree`);
    await settle();
    const r = await report.finish();

    // Every Service of the lab is named (the catalog was not dropped for the refusal objects beside it).
    const named = new Set(r.services.map((s) => s.name));
    for (const s of config.services) assert.ok(named.has(servicePortName(s)), `${servicePortName(s)} is named`);
    const row = (name: string) => r.services.find((s) => s.name === name && !s.service.startsWith('10.3.'))!;
    assert.deepEqual(row('lab/empty:http').noEndpoints, { mode: 'reject', nodes: [...lab.nodes].sort() });
    assert.equal(row('lab/empty:http').selections, 0);
    assert.equal(row('lab/empty:http').backends.length, 0);
    assert.equal(row('lab/web:http').noEndpoints, undefined);
    // Selections as the backends logged them, per backend address.
    const counted = (rs: typeof web) => {
      const out: Record<string, number> = {};
      for (const x of rs) {
        const b = lab.backends.find((y) => y.name === logs.get(x)!.backend)!;
        out[`${b.ip}:8080`] = (out[`${b.ip}:8080`] ?? 0) + 1;
      }
      return out;
    };
    const selected = (name: string) =>
      Object.fromEntries(
        r.services
          .filter((s) => s.name === name)
          .flatMap((s) => s.backends)
          .filter((b) => b.selections > 0)
          .map((b) => [b.backend, b.selections]),
      );
    assert.deepEqual(selected('lab/web:http'), counted(web));
    assert.deepEqual(selected('lab/sticky:http'), counted(sticky));
    assert.deepEqual(selected('lab/solo:http'), counted(solo), 'the NodePort on node 1, named from its rules');
  });
}
