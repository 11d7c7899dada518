// The round trip through src/kube-proxy, with the real tools between: any generated set of Service ports (ClusterIP,
// NodePort, external IPs, load-balancer IPs with or without source ranges, Local and Cluster policies, ClientIP
// affinity with its timeout, several ports of one Service, endpoints on this node or another or none at all, both
// families), rendered in each shape (iptables current and the seed dumps' older shape, nftables 1.35 and 1.36), loaded into a throwaway namespace (iptables-restore, nft -f), read back as the agent reads a
// node (iptables-save -t nat, nft -j list table) and parsed, gives the catalog computed by hand from the Services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import type { ServiceInfo } from '../../src/core/event.js';
import { parseNatCatalog, type NatCatalog } from '../../src/kube-proxy/iptables-parse.js';
import { renderNat } from '../../src/kube-proxy/iptables-render.js';
import {
  affinityTimeout,
  externalAddresses,
  servicePortName,
  type KubeServicePort,
  type ProxyConfig,
} from '../../src/kube-proxy/model.js';
import { parseNftCatalog } from '../../src/kube-proxy/nft-parse.js';
import { renderNft } from '../../src/kube-proxy/nft-render.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { netnsNames } from '../helpers/lab-fixture.js';

type Family = 'IPv4' | 'IPv6';
const addr = (f: Family, a: number, b: number) =>
  f === 'IPv4' ? `10.${a}.${b >> 8}.${b & 255}` : `fd00:${a}::${b.toString(16)}`;
/** A loadBalancerSourceRanges prefix of the family (none of them holds a node, Service or pod address). */
const sourceRange = (f: Family, n: number) =>
  f === 'IPv4' ? `10.${203 + n}.0.0/${24 - 8 * n}` : `fd00:${203 + n}::/${64 - 16 * n}`;
const bracket = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);

/** Service ports of one family: distinct addresses and NodePorts, names made unique by their index. */
const servicesOf = (family: Family) =>
  fc
    .array(
      fc.record({
        ports: fc.uniqueArray(fc.constantFrom(53, 80, 443, 8080), { minLength: 1, maxLength: 2 }),
        protocol: fc.constantFrom('tcp' as const, 'udp' as const),
        named: fc.boolean(),
        affinity: fc.option(fc.integer({ min: 1, max: 86400 }), { nil: undefined }),
        nodePort: fc.boolean(),
        local: fc.boolean(),
        externalIP: fc.boolean(),
        loadBalancer: fc.boolean(),
        ranges: fc.subarray([0, 1]),
        endpoints: fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 4000 }), fc.boolean()), {
          minLength: 0,
          maxLength: 4,
          selector: ([ip]) => ip,
        }),
      }),
      { minLength: 1, maxLength: 5 },
    )
    .map((specs) =>
      specs.flatMap((s, i): KubeServicePort[] =>
        s.ports.map((port, j) => ({
          namespace: `ns${i}`,
          name: `svc${i}`,
          portName: s.named || s.ports.length > 1 ? `p${port}` : '',
          clusterIP: addr(family, 96, i + 1),
          port,
          protocol: s.protocol,
          sessionAffinity: s.affinity !== undefined ? 'ClientIP' : 'None',
          ...(s.affinity !== undefined ? { timeoutSeconds: s.affinity } : {}),
          ...(s.nodePort ? { nodePort: 30000 + i * 10 + j } : {}),
          ...(s.nodePort || s.externalIP || s.loadBalancer
            ? { externalTrafficPolicy: s.local ? 'Local' : 'Cluster' }
            : {}),
          ...(s.externalIP ? { externalIPs: [addr(family, 98, i + 1)] } : {}),
          ...(s.loadBalancer
            ? {
                loadBalancerIPs: [addr(family, 99, i + 1)],
                ...(s.ranges.length > 0
                  ? { loadBalancerSourceRanges: s.ranges.map((r) => sourceRange(family, r)) }
                  : {}),
              }
            : {}),
          endpoints: s.endpoints.map(([ip, here]) => ({
            ip: addr(family, 1, ip),
            port: port + 1000,
            pod: `pod${ip}`,
            node: here ? 'node' : 'node2',
          })),
        })),
      ),
    );

/** The catalog a node's rules give for `services`, worked out from the Services alone. */
function expected(services: KubeServicePort[]) {
  // Without endpoints kube-proxy writes no affinity: the rules say None.
  const affinity = (s: KubeServicePort): ServiceInfo['affinity'] =>
    s.sessionAffinity === 'ClientIP' && s.endpoints.length > 0
      ? { mode: 'ClientIP', timeoutSeconds: affinityTimeout(s), source: 'rules' }
      : { mode: 'None', timeoutSeconds: null, source: 'rules' };
  // A Local NodePort reaches this node's endpoints, and (pods, the node itself) all of them: all are listed.
  const endpoints = (s: KubeServicePort) => s.endpoints.map((e) => `${bracket(e.ip)}:${e.port}`).sort();
  // No endpoints: rejected at every address and the NodePort; a Local one with none on this node: dropped at its
  // external destinations (NodePort, external and load-balancer IPs).
  const refused = (s: KubeServicePort, external: boolean) =>
    s.endpoints.length === 0
      ? { noEndpoints: 'reject' }
      : external && s.externalTrafficPolicy === 'Local' && !s.endpoints.some((e) => e.node === 'node')
        ? { noEndpoints: 'drop' }
        : {};
  // External and load-balancer IPs are refused as the NodePort is, whatever their source ranges.
  const row = (s: KubeServicePort, ip: string, external: boolean) => ({
    service: `${bracket(ip)}:${s.port}/${s.protocol}`,
    name: servicePortName(s),
    affinity: affinity(s),
    endpoints: endpoints(s),
    ...refused(s, external),
  });
  return {
    services: services
      .flatMap((s) => [row(s, s.clusterIP, false), ...externalAddresses(s).map((ip) => row(s, ip, true))])
      .sort((a, b) => (a.service < b.service ? -1 : 1)),
    nodePorts: services
      .filter((s) => s.nodePort !== undefined)
      .map((s) => [
        `${s.nodePort}/${s.protocol}`,
        { name: servicePortName(s), affinity: affinity(s), endpoints: endpoints(s), ...refused(s, true) },
      ])
      .sort(),
  };
}

const comparable = (c: NatCatalog) => ({
  services: c.services.map((s) => ({ ...s, endpoints: [...s.endpoints].sort() })),
  nodePorts: [...c.nodePorts].map(([k, v]) => [k, { ...v, endpoints: [...v.endpoints].sort() }]).sort(),
});

const shapes = [
  { label: 'iptables (current)', nft: false, shape: 'current', kubeVersion: '1.35' },
  { label: 'iptables (older, the seed dumps)', nft: false, shape: 'legacy', kubeVersion: '1.35' },
  { label: 'nftables 1.35', nft: true, shape: 'current', kubeVersion: '1.35' },
  { label: 'nftables 1.36', nft: true, shape: 'current', kubeVersion: '1.36' },
  {
    label: 'nftables 1.36, NodePorts at nodeport-ips',
    nft: true,
    shape: 'current',
    kubeVersion: '1.36',
    nodeIPs: true,
  },
] as const;

test('any Service set, rendered in each kube-proxy shape, loaded, read back and parsed, gives its catalog', (t) => {
  if (!requireRoot(t)) return;
  const ns = `${runPrefix()}-rt`;
  execFileSync('ip', ['netns', 'add', ns]);
  let gone = false;
  t.after(() => {
    if (!gone) execFileSync('ip', ['netns', 'del', ns]);
  });
  const inNs = (cmd: string, args: string[], input?: string) =>
    execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', input });
  for (const family of ['IPv4', 'IPv6'] as const) {
    const v6 = family === 'IPv6';
    for (const s of shapes) {
      fc.assert(
        fc.property(servicesOf(family), (services) => {
          const config: ProxyConfig = {
            shape: s.shape,
            kubeVersion: s.kubeVersion,
            clusterCIDR: v6 ? 'fd00::/47' : '10.0.0.0/15',
            services,
          };
          let read: string;
          if (s.nft) {
            inNs('nft', ['flush', 'ruleset']);
            const nodePortIPs = 'nodeIPs' in s ? [addr(family, 3, 1)] : undefined;
            inNs(
              'nft',
              ['-f', '-'],
              renderNft(config, 'node', { family, ...(nodePortIPs ? { nodePortIPs } : {}) }).text,
            );
            read = inNs('nft', ['-j', 'list', 'table', v6 ? 'ip6' : 'ip', 'kube-proxy']);
          } else {
            const save = v6 ? 'ip6tables' : 'iptables';
            inNs(`${save}-restore`, [], renderNat(config, 'node', { jumps: true, family }).text);
            // As the agent reads a node: the nat table, then the filter table with the refusals.
            read = inNs(`${save}-save`, ['-t', 'nat']) + inNs(`${save}-save`, ['-t', 'filter']);
          }
          const got = s.nft ? parseNftCatalog(read) : parseNatCatalog(read);
          assert.deepEqual(got.skipped ?? [], [], `${s.label} ${family}: nothing skipped`);
          assert.deepEqual(comparable(got), expected(services), `${s.label} ${family}`);
        }),
        { numRuns: 12, seed: 28 },
      );
    }
  }
  execFileSync('ip', ['netns', 'del', ns]);
  gone = true;
  assert.ok(!netnsNames().includes(ns), 'the namespace is gone');
});
