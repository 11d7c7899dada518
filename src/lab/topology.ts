// Namespaces, veth pairs, addresses and routes of the lab. Interfaces are created
// inside the namespaces (never in the root namespace), so their names need no prefix
// and two labs never collide: only the namespace names carry the prefix.
import { addressing, labFamilies, nodeName, type LabConfig } from './config.js';
import { inNetns, run } from './exec.js';
import { v6Twin, v6TwinPrefix } from './ip-family.js';

export interface Leaf {
  /** Short name: c1, x1, b1. */
  name: string;
  netns: string;
  ip: string;
  gateway: string;
  /** Netns of the node the leaf is wired to. */
  node: string;
  kind: 'client' | 'external' | 'backend';
  /** Further addresses of the leaf (client c1's extra sources). */
  extra: string[];
  /** Dual-stack labs: the IPv6 twins of `extra`. */
  extra6?: string[];
  /** A second node the leaf is wired to, through its eth1 (dual-homed external clients). */
  alsoNode?: string;
  /** Dual-stack labs: the leaf's IPv6 address and gateway (the twins of ip and gateway, see v6Twin). */
  ip6?: string;
  gateway6?: string;
}

export interface Topology {
  nodes: string[];
  leaves: Leaf[];
  /** Every leaf and node has IPv6 addresses too. */
  dualStack: boolean;
}

export function planTopology(prefix: string, c: LabConfig): Topology {
  const nodes = Array.from({ length: c.nodes }, (_, k) => `${prefix}-${nodeName(k)}`);
  const leaves: Leaf[] = [];
  for (let i = 1; i <= c.clients; i++) {
    leaves.push({
      name: `c${i}`,
      netns: `${prefix}-c${i}`,
      ip: addressing.clientIP(i),
      gateway: addressing.clientGateway(i),
      node: nodes[0]!,
      kind: 'client',
      extra: i === 1 ? extraSources(c) : [],
    });
  }
  for (let i = 1; i <= c.externalClients; i++) {
    leaves.push({
      name: `x${i}`,
      netns: `${prefix}-x${i}`,
      ip: addressing.externalIP(i),
      gateway: addressing.externalGateway(i),
      node: nodes[0]!,
      kind: 'external',
      extra: [],
      ...(c.dualHomed ? { alsoNode: nodes[1]! } : {}),
    });
  }
  c.backends.forEach((b, j) => {
    leaves.push({
      name: b.name,
      netns: `${prefix}-${b.name}`,
      ip: addressing.backendIP(j + 1),
      gateway: addressing.backendGateway(j + 1),
      node: `${prefix}-${b.node}`,
      kind: 'backend',
      extra: [],
    });
  });
  const dualStack = labFamilies(c).includes('IPv6');
  if (dualStack)
    for (const l of leaves)
      Object.assign(l, { ip6: v6Twin(l.ip), gateway6: v6Twin(l.gateway), extra6: l.extra.map((ip) => v6Twin(ip)) });
  return { nodes, leaves, dualStack };
}

function extraSources(c: LabConfig): string[] {
  return Array.from({ length: c.extraSources ?? 0 }, (_, n) => addressing.extraSource(n));
}

/** The IPv4 extra source whose twin is `ip6`. */
function v4Of(l: Leaf, ip6: string): string {
  return l.extra[l.extra6!.indexOf(ip6)]!;
}

export function namespacesOf(t: Topology): string[] {
  return [...t.nodes, ...t.leaves.map((l) => l.netns)];
}

function batch(ns: string | null, lines: string[]): Promise<string> {
  return run('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], lines.join('\n') + '\n');
}

/** `check` runs between steps so an interrupted set-up stops early. */
export async function buildTopology(t: Topology, check: () => void): Promise<void> {
  await batch(
    null,
    namespacesOf(t).map((ns) => `netns add ${ns}`),
  );
  check();
  if (t.dualStack) {
    // No duplicate address detection anywhere, link-local addresses included: until it ends, neighbour discovery
    // stalls and a lab's first IPv6 connections wait seconds for it.
    await Promise.all(
      namespacesOf(t).map((ns) =>
        inNetns(ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'),
      ),
    );
    check();
  }
  for (const [k, node] of t.nodes.entries()) {
    const lines = ['link set lo up', `addr add ${addressing.nodeIP(k)}/32 dev lo`];
    // IPv6 addresses skip duplicate address detection: a tentative address could not be used for a second or so.
    if (t.dualStack) lines.push(`addr add ${v6Twin(addressing.nodeIP(k))}/128 dev lo nodad`);
    for (const l of t.leaves.filter((x) => x.node === node)) {
      lines.push(
        `link add ${l.name} type veth peer name eth0 netns ${l.netns}`,
        `addr add ${l.gateway}/24 dev ${l.name}`,
        ...(l.gateway6 ? [`addr add ${l.gateway6}/64 dev ${l.name} nodad`] : []),
        ...(l.gateway6 && l.alsoNode ? [`addr add ${DUAL_HOMED_GATEWAY6}/64 dev ${l.name} nodad`] : []),
        `link set ${l.name} up`,
      );
      if (l.extra.length) lines.push(`route add ${addressing.extraSourceRange} via ${l.ip} dev ${l.name}`);
      // The twins of the /22 are one /64 per third octet: a route for each in use.
      for (const net of new Set((l.extra6 ?? []).map((ip) => v6TwinPrefix(v4Of(l, ip)))))
        lines.push(`route add ${net} via ${l.ip6} dev ${l.name}`);
    }
    for (const l of t.leaves.filter((x) => x.alsoNode === node)) {
      lines.push(
        `link add ${l.name} type veth peer name eth1 netns ${l.netns}`,
        `addr add ${l.gateway}/24 dev ${l.name}`,
        ...(l.gateway6 ? [`addr add ${l.gateway6}/64 dev ${l.name} nodad`] : []),
        ...(l.gateway6 ? [`addr add ${DUAL_HOMED_GATEWAY6}/64 dev ${l.name} nodad`] : []),
        `link set ${l.name} up`,
      );
    }
    await batch(node, lines);
    // Routing between pods is the node's job; asymmetric paths between two nodes must not be dropped.
    await inNetns(
      node,
      'sysctl',
      '-q',
      '-w',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
      ...(t.dualStack ? ['net.ipv6.conf.all.forwarding=1'] : []),
    );
    check();
  }
  for (let k = 1; k < t.nodes.length; k++) await wireNode(t, k);
  await routeServiceRange(t);
  for (const l of t.leaves) {
    // The second link gets a /32: one connected route, through eth0, until routeVia() moves the default.
    const second = l.alsoNode
      ? [`addr add ${l.ip}/32 dev eth1`, ...(l.ip6 ? [`addr add ${l.ip6}/128 dev eth1 nodad`] : []), 'link set eth1 up']
      : [];
    await batch(l.netns, [
      'link set lo up',
      `addr add ${l.ip}/24 dev eth0`,
      ...(l.ip6 ? [`addr add ${l.ip6}/64 dev eth0 nodad`] : []),
      ...l.extra.map((ip) => `addr add ${ip}/32 dev eth0`),
      ...(l.extra6 ?? []).map((ip) => `addr add ${ip}/128 dev eth0 nodad`),
      'link set eth0 up',
      ...second,
      `route add default via ${l.gateway}`,
      ...(l.gateway6 ? [`route add default via ${l.gateway6}`] : []),
    ]);
    check();
  }
}

/**
 * A real node sends a Service address kube-proxy did not translate on its default route, so the filter chains that
 * refuse it (forward hook) see it: node 1 routes the lab's Service range, and the range of its external and
 * load-balancer IPs, to a backend (node 2 reaches them through node 1). Without a route the kernel would answer "no
 * route" itself and kube-proxy's refusal would never be seen.
 */
async function routeServiceRange(t: Topology): Promise<void> {
  const next = t.leaves.find((l) => l.kind === 'backend' && l.node === t.nodes[0]);
  if (!next) return;
  await batch(t.nodes[0]!, [
    `route add ${SERVICE_RANGE} via ${next.ip}`,
    `route add ${addressing.externalServiceRange} via ${next.ip}`,
    ...(next.ip6 ? [`route add ${v6TwinPrefix(SERVICE_RANGE.replace(/\/\d+$/, ''))} via ${next.ip6}`] : []),
  ]);
}

/**
 * Node k + 1 hangs off node 1 on a link of its own (peerK+1 on node 1, peer1 on it): everything it does not own is
 * reached through node 1, which routes its leaves and its own address to it.
 */
async function wireNode(t: Topology, k: number): Promise<void> {
  const [n1, nk] = [t.nodes[0]!, t.nodes[k]!];
  const { hub, spoke } = addressing.nodeLink(k);
  const mine = t.leaves.filter((l) => l.node === nk);
  const [hub6, spoke6] = [v6Twin(hub), v6Twin(spoke)];
  const routes6 = t.dualStack
    ? [
        `addr add ${hub6}/64 dev peer${k + 1} nodad`,
        `route add ${v6Twin(addressing.nodeIP(k))}/128 via ${spoke6}`,
        ...mine.map((l) => `route add ${v6TwinPrefix(l.ip)} via ${spoke6}`),
      ]
    : [];
  await batch(n1, [
    `link add peer${k + 1} type veth peer name peer1 netns ${nk}`,
    `addr add ${hub}/30 dev peer${k + 1}`,
    `link set peer${k + 1} up`,
    `route add ${addressing.nodeIP(k)}/32 via ${spoke}`,
    ...mine.map((l) => `route add ${l.ip.replace(/\.\d+$/, '.0')}/24 via ${spoke}`),
    ...routes6,
  ]);
  await batch(nk, [
    `addr add ${spoke}/30 dev peer1`,
    ...(t.dualStack ? [`addr add ${spoke6}/64 dev peer1 nodad`] : []),
    'link set peer1 up',
    `route add default via ${hub}`,
    ...(t.dualStack ? [`route add default via ${hub6}`] : []),
  ]);
}

/**
 * A dual-homed leaf's IPv6 gateway on both links, link-local as IPv6 routers are: IPv6 refuses an `onlink` gateway
 * on eth1 that eth0's connected /64 already covers (gateway6 is in it), where IPv4 accepts it.
 */
const DUAL_HOMED_GATEWAY6 = 'fe80::1';
/** Where the lab's Service addresses are (10.96.0.x; their IPv6 twins are fd00:96::x). */
const SERVICE_RANGE = '10.96.0.0/16';

/** Sends a dual-homed leaf's traffic into node `k` (0: eth0, 1: eth1); both nodes' gateways share its address. */
export async function routeLeafVia(l: Leaf, k: number): Promise<void> {
  await batch(l.netns, [
    `route replace default via ${l.gateway} dev eth${k} onlink`,
    ...(l.gateway6 ? [`route replace default via ${DUAL_HOMED_GATEWAY6} dev eth${k}`] : []),
  ]);
}
