// The filter half of kube-proxy's nftables table: what it refuses before or after DNAT. Written from the facts of
// kubernetes pkg/proxy/nftables/proxier.go as its TestOverallNFTablesRules expects them (1.33-1.35 `baseRules`; the
// same filter objects in 1.36): the base chains at dstnat-10 (`filter-prerouting-pre-dnat`, `filter-output-pre-dnat`,
// where `firewall-check` applies LoadBalancerSourceRanges through `firewall-ips`) and at filter priority
// (`filter-input`, `filter-forward`, `filter-output`, which jump on new connections to `service-endpoints-check`,
// `nodeport-endpoints-check` and `cluster-ips-check`), the verdict maps `no-endpoint-services` and
// `no-endpoint-nodeports` (`drop`, or `goto reject-chain` since `reject` is no verdict), and `reject-chain`; and per
// Service with loadBalancerSourceRanges, its `firewall-ips` elements and `firewall-*` chain (the same in 1.36).
// NodePorts are matched as the `services` chain matches them: at the addresses of `nodeport-ips` (what kube-proxy
// writes unless --nodeport-addresses matches every address; nftables mode's default, `primary`, is the node's IP) or,
// when a render gives none, on any local address but loopback (`fib daddr type local`). One difference, on purpose:
// `cluster-ips-check` leaves out the drop of unallocated addresses of the service CIDR (the lab has none).
import { externalAddresses, servicePortName, usesFirewall, type KubeServicePort } from './model.js';
import type { UsableEndpoints } from './usable-endpoints.js';
import { chain, nftServiceBase, nodePortMatch, rule, type NftCtx } from './nft-render.js';

/** A verdict map or set, declared (and flushed: every render is a full sync). */
function declare(ctx: NftCtx, kind: 'set' | 'map', name: string, def: string): void {
  ctx.sets.push(name);
  ctx.defs.push(`add ${kind} ${ctx.t} ${name} { ${def} ; }`, `flush ${kind} ${ctx.t} ${name}`);
}

/** The maps, sets, base chains and check chains, before any Service. */
export function renderFilterBase(ctx: NftCtx): void {
  const key = `${ctx.addr} . inet_proto . inet_service : verdict`;
  declare(
    ctx,
    'map',
    'firewall-ips',
    `type ${key} ; comment "destinations that are subject to LoadBalancerSourceRanges"`,
  );
  declare(
    ctx,
    'map',
    'no-endpoint-services',
    `type ${key} ; comment "vmap to drop or reject packets to services with no endpoints"`,
  );
  declare(
    ctx,
    'map',
    'no-endpoint-nodeports',
    'type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints"',
  );
  chain(ctx, 'filter-prerouting-pre-dnat', 'type filter hook prerouting priority -110');
  chain(ctx, 'filter-output-pre-dnat', 'type filter hook output priority -110');
  chain(ctx, 'filter-forward', 'type filter hook forward priority 0');
  chain(ctx, 'filter-input', 'type filter hook input priority 0');
  chain(ctx, 'filter-output', 'type filter hook output priority 0');
  for (const c of ['firewall-check', 'service-endpoints-check', 'nodeport-endpoints-check', 'cluster-ips-check'])
    chain(ctx, c);
  chain(ctx, 'reject-chain', 'comment "helper for @no-endpoint-services / @no-endpoint-nodeports"');
  const dispatch = `${ctx.ip} daddr . meta l4proto . th dport`;
  const isNew = 'ct state new';
  rule(ctx, 'filter-prerouting-pre-dnat', `${isNew} jump firewall-check`);
  rule(ctx, 'filter-output-pre-dnat', `${isNew} jump firewall-check`);
  rule(ctx, 'filter-forward', `${isNew} jump service-endpoints-check`);
  rule(ctx, 'filter-forward', `${isNew} jump cluster-ips-check`);
  rule(ctx, 'filter-input', `${isNew} jump nodeport-endpoints-check`);
  rule(ctx, 'filter-input', `${isNew} jump service-endpoints-check`);
  rule(ctx, 'filter-output', `${isNew} jump service-endpoints-check`);
  rule(ctx, 'filter-output', `${isNew} jump cluster-ips-check`);
  rule(ctx, 'firewall-check', `${dispatch} vmap @firewall-ips`);
  rule(ctx, 'service-endpoints-check', `${dispatch} vmap @no-endpoint-services`);
  rule(ctx, 'nodeport-endpoints-check', `${nodePortMatch(ctx)} meta l4proto . th dport vmap @no-endpoint-nodeports`);
  rule(
    ctx,
    'cluster-ips-check',
    `${ctx.ip} daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"`,
  );
  rule(ctx, 'reject-chain', 'reject');
}

/**
 * What kube-proxy refuses of one Service here, on a node that uses `u` of its endpoints: with no usable endpoints at
 * all, its cluster IP, external and load-balancer IPs and NodePort go to `reject-chain`; under a Local policy with none
 * on this node, the cluster IP (internalTrafficPolicy) or the external destinations (externalTrafficPolicy) are
 * dropped (pods and the node itself still reach the cluster-wide endpoints through the external chain's
 * short-circuits).
 */
export function renderRefusals(ctx: NftCtx, s: KubeServicePort, u: UsableEndpoints): void {
  const comment = `comment "${servicePortName(s)}"`;
  const verdict = u.any ? 'drop' : 'goto reject-chain';
  const refuse = (ip: string) =>
    ctx.elements.push(
      `add element ${ctx.t} no-endpoint-services { ${ip} . ${s.protocol} . ${s.port} ${comment} : ${verdict} }`,
    );
  if (!u.internal) refuse(s.clusterIP);
  if (u.external) return;
  for (const ip of externalAddresses(s)) refuse(ip);
  if (s.nodePort !== undefined)
    ctx.elements.push(
      `add element ${ctx.t} no-endpoint-nodeports { ${s.protocol} . ${s.nodePort} ${comment} : ${verdict} }`,
    );
}

/**
 * loadBalancerSourceRanges (kube-proxy's usesFWChain, whether or not the Service has endpoints): each load-balancer IP
 * in `firewall-ips` goes to the Service's `firewall-*` chain, which drops every source outside the ranges before DNAT
 * (`filter-prerouting-pre-dnat`, priority -110). kube-proxy also admits the load-balancer IPs themselves when a range
 * holds the node's IP (a VIP looped back through the node); the lab's ranges never do, so that case is left out.
 */
export function renderFirewall(ctx: NftCtx, s: KubeServicePort): void {
  if (!usesFirewall(s)) return;
  const fw = `firewall-${nftServiceBase(s)}`;
  chain(ctx, fw);
  rule(ctx, fw, `${ctx.ip} saddr != { ${s.loadBalancerSourceRanges!.join(', ')} } drop`);
  for (const ip of s.loadBalancerIPs!)
    ctx.elements.push(`add element ${ctx.t} firewall-ips { ${ip} . ${s.protocol} . ${s.port} : goto ${fw} }`);
}
