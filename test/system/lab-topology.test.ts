// Issue 29's lab: a two-node lab in zones a (node) and b (node2) whose rules keep the topology promises the way
// kube-proxy does (iptables mode and both nftables shapes, IPv4 and IPv6), checked on the kernel: where the backends' logs say each
// connection from c1 (on node, zone a) went, against the endpoint sets this test works out itself from docs/lab.md's
// rules ("Topology"). Two agents and `report --agent --k8s` (the lab served as a cluster's API by `lab api`: Nodes
// with zone labels, EndpointSlices with zones and hints) name every Service with the backends the logs name, mark the
// internalTrafficPolicy Local Service whose pods are all on node2 as dropped on node, and give its `topology`: same-zone
// and cross-zone picks as the logs and the pods' zones count them, node's expected endpoints as worked out here, and
// the fallback's cause, the endpoint without a zone hint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents, startReportCli } from '../helpers/agents.js';
import { backendOf } from '../helpers/lab-fixture.js';
import { startCli } from '../helpers/cli.js';
import {
  defaultConfig,
  runClient,
  type KubeVersion,
  type LabBackend,
  type LabConfig,
  type ProxyMode,
} from '../../src/lab/lab.js';
import { overFamily } from '../../src/scenarios/family.js';
import type { IpFamily } from '../../src/lab/config.js';

const MODES: { proxyMode: ProxyMode; kubeVersion?: KubeVersion }[] = [
  { proxyMode: 'iptables' },
  { proxyMode: 'nftables', kubeVersion: '1.35' },
  { proxyMode: 'nftables', kubeVersion: '1.36' },
];
const ZONES = { node: 'a', node2: 'b' };

/**
 * The default two-node lab's pods (b1, b2 on node; b3, b4 on node2) in zones, with four Services that make promises
 * (over IPv6: a dual-stack lab whose Services are IPv6 only).
 */
function topologyConfig(mode: (typeof MODES)[number], family: IpFamily): LabConfig {
  const c = defaultConfig({ nodes: 2, ...mode });
  const web = c.services.find((s) => s.name === 'web')!;
  const svc = (name: string, last: number, more: Partial<LabConfig['services'][0]>) => ({
    ...web,
    name,
    clusterIP: `10.96.0.${last}`,
    ...more,
  });
  c.zones = ZONES;
  c.services = [];
  c.services.push(
    svc('zonal', 40, { trafficDistribution: 'PreferSameZone' }),
    // One endpoint without a hint: the controller hints the others, kube-proxy ignores them all.
    svc('nohint', 41, {
      trafficDistribution: 'PreferSameZone',
      endpoints: web.endpoints.map((e, i) => (i === 3 ? { ...e, hints: {} } : e)),
    }),
    svc('local', 42, { internalTrafficPolicy: 'Local' }),
    // Uneven zones: b1 is zone a's only pod, so it takes all of zone a's picks.
    svc('lone', 44, { trafficDistribution: 'PreferSameZone', endpoints: web.endpoints.filter((e) => e.pod !== 'b2') }),
    svc('remote', 43, { internalTrafficPolicy: 'Local', endpoints: web.endpoints.filter((e) => e.node === 'node2') }),
  );
  return overFamily(c, family);
}

/** What docs/lab.md says node `node` (zone a) uses, worked out here: pods by name. */
function expectedPods(c: LabConfig, name: string): string[] {
  const s = c.services.find((x) => x.name === name)!;
  const zoneOf = (pod: string) => ZONES[c.backends.find((b) => b.name === pod)!.node as keyof typeof ZONES];
  const all = s.endpoints.map((e) => e.pod);
  if (s.internalTrafficPolicy === 'Local') return s.endpoints.filter((e) => e.node === 'node').map((e) => e.pod);
  const everyHinted = s.trafficDistribution !== undefined && s.endpoints.every((e) => e.hints === undefined);
  return everyHinted ? all.filter((p) => zoneOf(p) === 'a') : all;
}

for (const family of ['IPv4', 'IPv6'] as const)
  for (const mode of MODES) {
    const label = `${mode.proxyMode === 'iptables' ? 'iptables mode' : `nftables mode ${mode.kubeVersion}`}, ${family}`;
    test(`the lab keeps topology promises as kube-proxy does, and the report agrees (${label})`, {
      timeout: 180_000,
    }, async (t) => {
      if (!requireRoot(t)) return;
      const config = topologyConfig(mode, family);
      const addr = (b: LabBackend) => (family === 'IPv6' ? `[${b.ip6}]:8080` : `${b.ip}:8080`);
      const { lab, agents } = await startLabWithAgents(t, config);
      const api = startCli(['lab', 'api', '--prefix', lab.prefix]);
      t.after(async () => {
        api.child.kill('SIGINT');
        const { code } = await api.exit;
        assert.equal(code, 0, `lab api exited ${code}: ${api.stderr()}`);
      });
      await api.waitFor(/kubeconfig \S+/);
      const kubeconfig = /kubeconfig (\S+)/.exec(api.stdout())![1]!;
      const report = await startReportCli(t, agents, '180s', ['--k8s', '--kubeconfig', kubeconfig]);
      // No pod of lab/remote on node: c1's attempts are dropped there (it waits), not refused. First, so that an
      // earlier connection from the same client port cannot stand in for one in the backends' logs.
      const remote = await runClient(lab, 'c1', { service: 'lab/remote:http', mode: 'http', count: 3, timeoutMs: 700 });
      for (const r of remote) assert.match(r.error ?? '', /no answer within 700 ms/, `${r.target}: ${r.answer}`);
      const sent = new Map<string, Awaited<ReturnType<typeof runClient>>>();
      for (const name of ['zonal', 'nohint', 'local', 'lone'])
        sent.set(name, await runClient(lab, 'c1', { service: `lab/${name}:http`, mode: 'http', count: 40 }));
      const logs = await backendOf(lab, [...[...sent.values()].flat(), ...remote]);
      for (const r of remote) assert.equal(logs.get(r), undefined, 'no backend saw a dropped connection');

      for (const [name, results] of sent) {
        const served = new Set(results.map((r) => logs.get(r)?.backend));
        const expected = expectedPods(config, name);
        for (const pod of served) assert.ok(expected.includes(pod!), `${name}: ${pod} is not one of ${expected}`);
        // 40 connections over 2 or 4 pods: every expected pod gets some (all but certain at random).
        assert.deepEqual([...served].sort(), [...expected].sort(), `${name}: the pods that served`);
      }
      assert.ok(
        expectedPods(config, 'nohint').some((p) => p === 'b3' || p === 'b4'),
        'the fallback sends zone a clients to zone b',
      );

      // Every connection the backends logged has reached the agents' streams (the report's too) before it ends.
      await report.waitForDnat([...sent.values()].flat().length);
      const r = await report.finish();
      const row = (name: string) => r.services.find((s) => s.name === name && !s.service.startsWith('10.3.'));
      assert.deepEqual(row('lab/remote:http')?.noEndpoints, { mode: 'drop', nodes: [lab.nodes[0]] });
      for (const [name, results] of sent) {
        const want: Record<string, number> = {};
        for (const x of results) {
          const b = lab.backends.find((y) => y.name === logs.get(x)!.backend)!;
          want[addr(b)] = (want[addr(b)] ?? 0) + 1;
        }
        const got = Object.fromEntries(
          (row(`lab/${name}:http`)?.backends ?? [])
            .filter((b) => b.selections > 0)
            .map((b) => [b.backend, b.selections]),
        );
        assert.deepEqual(got, want, `lab/${name}:http: the report's selections are the backends' logs`);
        // Topology: every pick from c1 was made on node (zone a); the pod's zone is its node's.
        const zoneOfPod = (pod: string) =>
          ZONES[lab.config.backends.find((b) => b.name === pod)!.node as keyof typeof ZONES];
        const same = results.filter((x) => zoneOfPod(logs.get(x)!.backend) === 'a').length;
        const topo = row(`lab/${name}:http`)?.topology;
        assert.ok(topo, `lab/${name}:http has topology`);
        const onNode = topo.nodes.find((n) => n.node === lab.nodes[0])!;
        assert.deepEqual(
          [onNode.zone, onNode.selections, onNode.sameZone, onNode.crossZone, onNode.sameNode],
          [ZONES.node, results.length, same, results.length - same, same],
          `lab/${name}:http on node: zone, picks, same zone, cross zone, same node (b1, b2 are node's)`,
        );
        const ip = (pod: string) => addr(lab.backends.find((b) => b.name === pod)!);
        const expected = expectedPods(config, name).map(ip).sort();
        assert.equal(onNode.expected.count, expected.length, `lab/${name}: expected count`);
        if (onNode.expected.mode !== 'all')
          assert.deepEqual(onNode.expected.endpoints, expected, `lab/${name}: expected`);
        assert.equal(onNode.rules, undefined, `lab/${name}: node's rules hold what kube-proxy should`);
      }
      const nohint = row('lab/nohint:http')!.topology!.nodes.find((n) => n.node === lab.nodes[0])!;
      assert.equal(nohint.expected.mode, 'all');
      assert.equal(nohint.fallback, `same-zone hints ignored: endpoint ${addr(lab.backends[3]!)} has no zone hint`);
      assert.equal(
        row('lab/zonal:http')!.topology!.nodes.find((n) => n.node === lab.nodes[0])!.expected.mode,
        'PreferSameZone',
      );
      assert.equal(row('lab/local:http')!.topology!.policy, 'Local');
      // The findings name both: the node that fell back, and the node that drops lab/remote's connections.
      // The lone pod: every pick from zone a, and the topology says so (its share is no skew).
      const lone = row('lab/lone:http')!.topology!.backends.find((b) => b.backend === addr(lab.backends[0]!))!;
      assert.deepEqual([lone.zone, lone.selections, lone.expectedSelections], ['a', 40, 40]);
      const fallbacks = (r.findings ?? []).filter((f) => f.kind === 'topologyFallback').map((f) => f.service);
      assert.deepEqual(fallbacks.sort(), ['lab/nohint:http', 'lab/remote:http']);
    });
  }
