// Renders one node's `ip kube-proxy` table the way kube-proxy's nftables mode writes it, as one `nft -f` transaction
// that re-syncs everything: 1.35's shape (an endpoint chain per endpoint, `mark-for-masquerade`) or 1.36's (inline
// `numgen` DNAT maps for Services without affinity, marking in `services`, hairpin through a set).
import { renderFilterBase, renderFirewall, renderRefusals } from './nft-filter.js';
import {
  affinityTimeout,
  externalAddresses,
  externallyAccessible,
  type ProxyConfig,
  type KubeEndpoint,
  type KubeServicePort,
} from './model.js';
import { nftNameBase } from './names.js';
import { usableOn, type UsableEndpoints } from './usable-endpoints.js';
import { endpointText, sortedEndpoints } from './iptables-render.js';
import type { IpFamily } from '../core/ip.js';

const NFT_TABLE = 'kube-proxy';
const MASQ_MARK = '0x4000';

export interface RenderedNft {
  text: string;
  /** Every chain and set this render declares, so a later render can delete the ones it no longer has. */
  chains: string[];
  sets: string[];
}

/** The name bases of a Service port and of one of its endpoints (see nftNameBase). */
export function nftServiceBase(s: KubeServicePort): string {
  return nftNameBase(`${s.namespace}/${s.name}/${s.protocol}/${s.portName}`);
}

/** nft names cannot hold ':': an IPv6 endpoint's colons become dots (fd00:1:1::2 -> fd00.1.1..2). */
function nftEndpointBase(s: KubeServicePort, e: KubeEndpoint): string {
  return nftNameBase(`${s.namespace}/${s.name}/${s.protocol}/${s.portName}__${e.ip.replaceAll(':', '.')}/${e.port}`);
}

/** Endpoint chains of a Service, as rendered (1.36 has them for affinity Services only). */
export function nftEndpointChains(config: ProxyConfig, s: KubeServicePort): Map<string, KubeEndpoint> {
  if (!needsEndpointChains(config, s)) return new Map();
  return new Map(sortedEndpoints(s.endpoints).map((e) => [`endpoint-${nftEndpointBase(s, e)}`, e]));
}

const newShape = (c: ProxyConfig) => (c.kubeVersion ?? '1.35') !== '1.35';
const needsEndpointChains = (c: ProxyConfig, s: KubeServicePort) => !newShape(c) || s.sessionAffinity === 'ClientIP';

export interface NftCtx {
  config: ProxyConfig;
  /** `ip kube-proxy` or `ip6 kube-proxy`: kube-proxy runs one proxier, with its own table, per family. */
  t: string;
  /** The family's match keyword (`ip saddr`, `ip6 saddr`) and set element type. */
  ip: 'ip' | 'ip6';
  addr: 'ipv4_addr' | 'ipv6_addr';
  node: string;
  /**
   * kube-proxy's `nodeport-ips` (--nodeport-addresses not matching all, as nftables mode's default `primary`): the
   * node's addresses that accept NodePorts. Absent: NodePorts on any local address (`fib daddr type local`).
   */
  nodePortIPs?: string[];
  chains: string[];
  sets: string[];
  /** Set and map definitions, then element lines, then rule lines. */
  defs: string[];
  elements: string[];
  rules: string[];
}

/** Where NodePorts are accepted: the node's `nodeport-ips`, or any local address but loopback. */
export function nodePortMatch(ctx: NftCtx): string {
  if (ctx.nodePortIPs) return `${ctx.ip} daddr @nodeport-ips`;
  return `fib daddr type local ${ctx.ip} daddr != ${ctx.ip === 'ip6' ? '::1' : '127.0.0.0/8'}`;
}

export function chain(ctx: NftCtx, name: string, hook?: string): void {
  if (ctx.chains.includes(name)) return;
  ctx.chains.push(name);
  ctx.defs.push(`add chain ${ctx.t} ${name}${hook ? ` { ${hook} ; }` : ''}`);
}

export function rule(ctx: NftCtx, chainName: string, text: string): void {
  ctx.rules.push(`add rule ${ctx.t} ${chainName} ${text}`);
}

/** A full sync: declares (and flushes) every chain, set and map, fills them, and deletes what `stale` had extra. */
/** `config` is one family's view (familyView); `family` picks the table and the address syntax. */
export function renderNft(
  config: ProxyConfig,
  node: string,
  opts: { stale?: RenderedNft; family?: IpFamily; nodePortIPs?: string[] } = {},
): RenderedNft {
  const v6 = opts.family === 'IPv6';
  const ctx: NftCtx = {
    config,
    t: `${v6 ? 'ip6' : 'ip'} ${NFT_TABLE}`,
    ip: v6 ? 'ip6' : 'ip',
    addr: v6 ? 'ipv6_addr' : 'ipv4_addr',
    node,
    ...(opts.nodePortIPs ? { nodePortIPs: opts.nodePortIPs } : {}),
    chains: [],
    sets: [],
    defs: [],
    elements: [],
    rules: [],
  };
  const modern = newShape(config);
  declareBase(ctx, modern);
  rule(ctx, 'nat-prerouting', 'jump services');
  rule(ctx, 'nat-output', 'jump services');
  rule(ctx, 'nat-postrouting', 'jump masquerading');
  renderMasquerade(ctx, modern);
  rule(ctx, 'services', `${ctx.ip} daddr . meta l4proto . th dport vmap @service-ips`);
  for (const ip of ctx.nodePortIPs ?? []) ctx.elements.push(`add element ${ctx.t} nodeport-ips { ${ip} }`);
  rule(ctx, 'services', `${nodePortMatch(ctx)} meta l4proto . th dport vmap @service-nodeports`);
  renderFilterBase(ctx);
  for (const s of config.services) renderService(ctx, s);
  return { text: syncText(ctx, opts.stale), chains: ctx.chains, sets: ctx.sets };
}

/** The base chains, and the sets and maps kube-proxy's shape (`modern`: 1.36 and later) declares, each flushed. */
function declareBase(ctx: NftCtx, modern: boolean): void {
  chain(ctx, 'nat-prerouting', 'type nat hook prerouting priority dstnat');
  chain(ctx, 'nat-output', 'type nat hook output priority -100');
  chain(ctx, 'nat-postrouting', 'type nat hook postrouting priority srcnat');
  chain(ctx, 'services');
  chain(ctx, 'masquerading');
  if (!modern) chain(ctx, 'mark-for-masquerade');
  const maps: [string, string][] = [
    ['service-ips', `type ${ctx.addr} . inet_proto . inet_service : verdict`],
    ['service-nodeports', 'type inet_proto . inet_service : verdict'],
    ['cluster-ips', `type ${ctx.addr} ; comment "Active ClusterIPs"`],
    ...(ctx.nodePortIPs
      ? ([['nodeport-ips', `type ${ctx.addr} ; comment "IPs that accept NodePort traffic"`]] as [string, string][])
      : []),
    ...(modern
      ? ([
          [
            'hairpin-connections',
            `type ${ctx.addr} . ${ctx.addr} . inet_proto . inet_service ; comment "service hairpin connections"`,
          ],
        ] as [string, string][])
      : []),
  ];
  for (const [name, def] of maps) {
    ctx.sets.push(name);
    const kind = def.includes(': verdict') ? 'map' : 'set';
    ctx.defs.push(`add ${kind} ${ctx.t} ${name} { ${def} ; }`, `flush ${kind} ${ctx.t} ${name}`);
  }
}

/** Marking for masquerade, and masquerading what was marked. */
function renderMasquerade(ctx: NftCtx, modern: boolean): void {
  const { config } = ctx;
  if (modern) {
    // 1.36 (the "Remove mark-for-masquerade chain" change): one marking rule, masquerade of the marked and of a pod
    // sent to itself (the endpoint's own address, protocol and port in @hairpin-connections).
    rule(
      ctx,
      'services',
      `${ctx.ip} daddr @cluster-ips ${ctx.ip} saddr != ${config.clusterCIDR} meta mark set meta mark or ${MASQ_MARK} comment "masquerade clusterIP traffic from outside cluster"`,
    );
    rule(
      ctx,
      'masquerading',
      `meta mark & ${MASQ_MARK} != 0 meta mark set meta mark xor ${MASQ_MARK} masquerade fully-random`,
    );
    rule(
      ctx,
      'masquerading',
      `ct status dnat ${ctx.ip} saddr . ${ctx.ip} daddr . meta l4proto . th dport @hairpin-connections masquerade fully-random`,
    );
  } else {
    rule(ctx, 'mark-for-masquerade', `meta mark set meta mark or ${MASQ_MARK}`);
    rule(ctx, 'masquerading', `meta mark & ${MASQ_MARK} == 0 return`);
    rule(ctx, 'masquerading', `meta mark set meta mark xor ${MASQ_MARK}`);
    rule(ctx, 'masquerading', 'masquerade fully-random');
  }
}

/** The text of the sync: definitions, flushes, elements, rules, then the deletion of what `stale` had extra. */
function syncText(ctx: NftCtx, stale: RenderedNft | undefined): string {
  const staleChains = (stale?.chains ?? []).filter((c) => !ctx.chains.includes(c));
  const staleSets = (stale?.sets ?? []).filter((c) => !ctx.sets.includes(c));
  const lines = [
    `add table ${ctx.t} { comment "rules for kube-proxy" ; }`,
    ...ctx.defs,
    ...ctx.chains.map((c) => `flush chain ${ctx.t} ${c}`),
    // A stale chain may still jump to another stale chain or name a stale set: empty them all before deleting any.
    ...staleChains.map((c) => `flush chain ${ctx.t} ${c}`),
    ...ctx.elements,
    ...ctx.rules,
    ...staleChains.map((c) => `delete chain ${ctx.t} ${c}`),
    ...staleSets.map((s) => `delete set ${ctx.t} ${s}`),
    '',
  ];
  return lines.join('\n');
}

function renderService(ctx: NftCtx, s: KubeServicePort): void {
  const u = usableOn(ctx.config, s, ctx.node);
  ctx.elements.push(`add element ${ctx.t} cluster-ips { ${s.clusterIP} }`);
  renderRefusals(ctx, s, u);
  renderFirewall(ctx, s);
  if (!u.any) return; // no service chain: the filter chains refuse it (nft-filter.ts)
  const modern = newShape(ctx.config);
  const p = s.protocol;
  const svc = `service-${nftServiceBase(s)}`;
  const loc = `local-${nftServiceBase(s)}`;
  // Cluster-IP traffic goes to the local policy's chain under internalTrafficPolicy Local.
  const internal = s.internalTrafficPolicy === 'Local' ? loc : svc;
  const eps = sortedEndpoints(u.reachable);
  if (u.clusterChain) chain(ctx, svc);
  if (u.localChain) chain(ctx, loc);
  if (u.internal)
    ctx.elements.push(`add element ${ctx.t} service-ips { ${s.clusterIP} . ${p} . ${s.port} : goto ${internal} }`);
  if (modern) {
    for (const e of eps.filter((x) => x.node === ctx.node))
      ctx.elements.push(`add element ${ctx.t} hairpin-connections { ${e.ip} . ${e.ip} . ${p} . ${e.port} }`);
  } else if (u.internal) {
    rule(
      ctx,
      internal,
      `${ctx.ip} daddr ${s.clusterIP} ${p} dport ${s.port} ${ctx.ip} saddr != ${ctx.config.clusterCIDR} jump mark-for-masquerade`,
    );
  }
  if (needsEndpointChains(ctx.config, s)) for (const e of eps) renderEndpoint(ctx, s, e);
  if (u.clusterChain) balance(ctx, s, svc, sortedEndpoints(u.cluster));
  if (u.localChain) balance(ctx, s, loc, sortedEndpoints(u.local));
  if (externallyAccessible(s)) renderExternal(ctx, s, { svc, loc }, u);
}

/** Affinity checks, then one random pick among `eps`: a verdict map of endpoint chains, or (1.36) an inline DNAT map. */
function balance(ctx: NftCtx, s: KubeServicePort, chainName: string, eps: KubeEndpoint[]): void {
  if (eps.length === 0) return;
  const affinity = s.sessionAffinity === 'ClientIP';
  if (affinity) {
    for (const e of eps) {
      const base = nftEndpointBase(s, e);
      rule(ctx, chainName, `${ctx.ip} saddr @affinity-${base} goto endpoint-${base}`);
    }
  }
  if (needsEndpointChains(ctx.config, s)) {
    const picks = eps.map((e, i) => `${i} : goto endpoint-${nftEndpointBase(s, e)}`);
    rule(ctx, chainName, `numgen random mod ${eps.length} vmap { ${picks.join(', ')} }`);
  } else if (eps.length === 1) {
    rule(ctx, chainName, `meta l4proto ${s.protocol} dnat to ${endpointText(eps[0]!)}`);
  } else {
    const picks = eps.map((e, i) => `${i} : ${e.ip} . ${e.port}`);
    rule(
      ctx,
      chainName,
      `meta l4proto ${s.protocol} dnat ${ctx.ip} addr . port to numgen random mod ${eps.length} map { ${picks.join(', ')} }`,
    );
  }
}

function renderEndpoint(ctx: NftCtx, s: KubeServicePort, e: KubeEndpoint): void {
  const base = nftEndpointBase(s, e);
  const ep = `endpoint-${base}`;
  chain(ctx, ep);
  if (!newShape(ctx.config)) rule(ctx, ep, `${ctx.ip} saddr ${e.ip} jump mark-for-masquerade`);
  if (s.sessionAffinity === 'ClientIP') {
    const set = `affinity-${base}`;
    ctx.sets.push(set);
    const size = s.affinitySetSize !== undefined ? ` size ${s.affinitySetSize} ;` : '';
    // `add` keeps an existing set and its elements: a kept endpoint keeps the clients pinned to it.
    ctx.defs.push(
      `add set ${ctx.t} ${set} { type ${ctx.addr} ; flags dynamic,timeout ; timeout ${affinityTimeout(s)}s ;${size} }`,
    );
    rule(ctx, ep, `update @${set} { ${ctx.ip} saddr }`);
  }
  rule(ctx, ep, `meta l4proto ${s.protocol} dnat to ${endpointText(e)}`);
}

/** The external chain: where external IPs, load-balancer IPs and the NodePort lead. */
function renderExternal(ctx: NftCtx, s: KubeServicePort, to: { svc: string; loc: string }, u: UsableEndpoints): void {
  const { svc, loc } = to;
  const ext = `external-${nftServiceBase(s)}`;
  const mark = newShape(ctx.config) ? `meta mark set meta mark or ${MASQ_MARK}` : 'jump mark-for-masquerade';
  chain(ctx, ext);
  for (const ip of externalAddresses(s))
    ctx.elements.push(`add element ${ctx.t} service-ips { ${ip} . ${s.protocol} . ${s.port} : goto ${ext} }`);
  if (s.nodePort !== undefined)
    ctx.elements.push(`add element ${ctx.t} service-nodeports { ${s.protocol} . ${s.nodePort} : goto ${ext} }`);
  if (s.externalTrafficPolicy !== 'Local') {
    rule(ctx, ext, mark);
    if (u.external) rule(ctx, ext, `goto ${svc}`);
    return;
  }
  rule(ctx, ext, `${ctx.ip} saddr ${ctx.config.clusterCIDR} goto ${svc} comment "short-circuit pod traffic"`);
  rule(ctx, ext, `fib saddr type local ${mark} comment "masquerade local traffic"`);
  rule(ctx, ext, `fib saddr type local goto ${svc} comment "short-circuit local traffic"`);
  if (u.external) rule(ctx, ext, `goto ${loc}`);
}
