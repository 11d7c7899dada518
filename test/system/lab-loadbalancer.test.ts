// Issue 24 end to end: the default lab has a LoadBalancer Service (lab/lb:http) whose ingress IP admits client c1 and
// the external clients (loadBalancerSourceRanges) but not c2, and an external IP the ranges do not cover. The lab writes
// kube-proxy's rules for it (iptables mode and both nftables shapes): the kernel admits c1 and x1 at the load-balancer
// IP and drops c2 there before any DNAT (the client waits in vain), while c2 reaches the external IP. An agent and
// `report --agent` (TLS) then name the selections through both addresses as the Service, and count exactly what the
// backends logged: the dropped attempts left no selection. In iptables mode the node also has kube-proxy's nfacct
// counter rule for localhost NodePorts (the lab creates the counter with the nfacct tool, as kube-proxy does at start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot, requireTools } from '../helpers/env.js';
import { execFileSync } from 'node:child_process';
import { startLabWithAgents, startReportCli } from '../helpers/agents.js';
import { findService } from '../../src/lab/config.js';
import { defaultConfig, readBackendLogs, runClient, type KubeVersion, type ProxyMode } from '../../src/lab/lab.js';

const MODES: { proxyMode: ProxyMode; kubeVersion?: KubeVersion }[] = [
  { proxyMode: 'iptables' },
  { proxyMode: 'nftables', kubeVersion: '1.35' },
  { proxyMode: 'nftables', kubeVersion: '1.36' },
];

const SERVICE = 'lab/lb:http';
/** Lets the last events through the probe, the agent and the merge's reorder delay. */
const settle = () => new Promise((r) => setTimeout(r, 1500));

for (const mode of MODES) {
  const label = mode.proxyMode === 'iptables' ? 'iptables mode' : `nftables mode ${mode.kubeVersion}`;
  test(`a load-balancer IP admits its source ranges only, and its selections are the Service's (${label})`, {
    timeout: 180_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    if (mode.proxyMode === 'iptables' && !requireTools(t, 'nfacct')) return;
    const config = defaultConfig(mode);
    const lb = findService(config.services, SERVICE);
    assert.ok(lb.loadBalancerIPs?.length && lb.loadBalancerSourceRanges?.length && lb.externalIPs?.length);
    const { lab, agents } = await startLabWithAgents(t, config);
    const report = await startReportCli(t, agents);
    if (mode.proxyMode === 'iptables') {
      // kube-proxy's localhost NodePort counter, in the node as kube-proxy leaves it (iptables-save's two spaces).
      const nat = execFileSync('ip', ['netns', 'exec', lab.nodes[0]!, 'iptables-save', '-t', 'nat'], {
        encoding: 'utf8',
      });
      assert.match(
        nat,
        /-A KUBE-NODEPORTS -d 127\.0\.0\.0\/8 .*--dport 30092 -m nfacct --nfacct-name +localhost_nps_accepted_pkts -j KUBE-EXT-/,
      );
    }

    // Outside the ranges: dropped before DNAT, so the client gets no answer at all (no refusal either).
    const dropped = await runClient(lab, 'c2', {
      service: SERVICE,
      mode: 'http',
      count: 3,
      via: 'loadBalancer',
      timeoutMs: 700,
    });
    assert.equal(dropped.length, 3);
    for (const r of dropped) assert.match(r.error ?? '', /no answer within 700 ms/, `${r.target}: ${r.answer}`);
    const admitted = [
      ...(await runClient(lab, 'c1', { service: SERVICE, mode: 'http', count: 20, via: 'loadBalancer' })),
      ...(await runClient(lab, 'x1', { service: SERVICE, mode: 'http', count: 10, via: 'loadBalancer' })),
      // The ranges apply to load-balancer IPs only: c2 reaches the external IP.
      ...(await runClient(lab, 'c2', { service: SERVICE, mode: 'http', count: 10, via: 'externalIP' })),
    ];
    assert.equal(admitted.length, 40);
    // The external chain masquerades (Cluster policy), so backends log the node's address, not the client's: the ground
    // truth is what they logged in all, nothing else having run in this lab.
    for (const r of admitted) assert.ok(r.answer !== null, `${r.target} from ${r.client}: ${r.error}`);
    const logs = await readBackendLogs(lab);
    assert.equal(logs.length, admitted.length, 'the backends logged the admitted connections, and no dropped one');
    const counted: Record<string, number> = {};
    const answered: Record<string, number> = {};
    const ipOf = (name: string | null) => `${lab.backends.find((b) => b.name === name)!.ip}:8080`;
    for (const l of logs) counted[ipOf(l.backend)] = (counted[ipOf(l.backend)] ?? 0) + 1;
    for (const x of admitted) answered[ipOf(x.answer)] = (answered[ipOf(x.answer)] ?? 0) + 1;
    assert.deepEqual(answered, counted, 'answers and backend logs agree');
    await settle();
    const r = await report.finish();

    // Every selection through the load-balancer IP and the external IP is named as the Service; none is left unnamed.
    const rows = r.services.filter((s) => s.name === SERVICE);
    assert.ok(rows.length > 0, `a row for ${SERVICE}; rows: ${r.services.map((s) => `${s.service}=${s.name}`)}`);
    const stray = r.services.filter((s) => s.name === null && s.selections > 0);
    assert.deepEqual(
      stray.map((s) => s.service),
      [],
      'no unnamed Service got selections',
    );
    const selected: Record<string, number> = {};
    for (const b of rows.flatMap((s) => s.backends))
      if (b.selections > 0) selected[b.backend] = (selected[b.backend] ?? 0) + b.selections;
    assert.deepEqual(selected, counted, 'selections per backend as the backends logged them, dropped ones none');
    // And by the address they came through: the load-balancer IP (c1 and x1), the external IP (c2).
    const through = (ip: string) =>
      rows
        .flatMap((s) => s.frontends ?? [{ address: s.service, selections: s.selections }])
        .filter((f) => f.address.startsWith(`${ip}:`))
        .reduce((n, f) => n + f.selections, 0);
    assert.equal(through(lb.loadBalancerIPs![0]!), 30, 'selections through the load-balancer IP');
    assert.equal(through(lb.externalIPs![0]!), 10, 'selections through the external IP');
  });
}
