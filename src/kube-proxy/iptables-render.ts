// Renders one node's nat table the way kube-proxy's iptables mode writes it, for `iptables-restore --noflush`, in the
// order iptables-save prints it back, so a dump of the lab reads like a dump of a node.
import { renderFilter } from './iptables-filter.js';
import {
  affinityTimeout,
  externallyAccessible,
  servicePortName,
  usesFirewall,
  type ProxyConfig,
  type KubeEndpoint,
  type KubeServicePort,
} from './model.js';
import { endpointChain, serviceChain } from './names.js';
import { usableOn, type UsableEndpoints } from './usable-endpoints.js';
import { joinHostPort, type IpFamily } from '../core/ip.js';

export interface RenderedRules {
  text: string;
  /** Every KUBE-* chain this render declares. */
  chains: string[];
}

const MASQ_MARK = '0x4000';
/** The older shape's KUBE-MARK-DROP mark, dropped by the filter table's KUBE-FIREWALL. */
const DROP_MARK = '0x8000';
const NODEPORTS_COMMENT = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"';

interface Ctx {
  config: ProxyConfig;
  /** Which of kube-proxy's two proxiers this is: iptables or ip6tables. */
  family: IpFamily;
  node: string;
  /** The node has kube-proxy's nfacct counter for localhost NodePorts (see LOCALHOST_NODEPORTS_COUNTER). */
  nfacct: boolean;
  chains: string[];
  rules: string[];
}

/**
 * kube-proxy's nfacct counter of NodePorts reached at 127.0.0.0/8 (IPv4, current shape): where it could create the
 * counter, it writes a first KUBE-NODEPORTS rule per NodePort, `-d 127.0.0.0/8 ... -m nfacct --nfacct-name` it.
 */
export const LOCALHOST_NODEPORTS_COUNTER = 'localhost_nps_accepted_pkts';

/** "ip:port", IPv6 bracketed: kube-proxy's endpoint string, hashed into chain names. */
export const endpointText = (e: Pick<KubeEndpoint, 'ip' | 'port'>) => joinHostPort(e.ip, e.port);

export function sortedEndpoints(eps: KubeEndpoint[]): KubeEndpoint[] {
  return [...eps].sort((a, b) => (endpointText(a) < endpointText(b) ? -1 : 1));
}

/** SEP chain names of a service's endpoints, as rendered. */
export function endpointChains(s: KubeServicePort): Map<string, KubeEndpoint> {
  const name = servicePortName(s);
  return new Map(sortedEndpoints(s.endpoints).map((e) => [endpointChain(name, s.protocol, endpointText(e)), e]));
}

/**
 * `config` is one family's view (familyView): `family` picks the address syntax (IPv6 for ip6tables-restore).
 * Declaring a chain (":NAME - [0:0]") flushes it, so a render is a full sync of every KUBE-* chain; chains that no
 * longer exist are listed in `stale` and deleted in the same transaction.
 * `node` is the short node name whose rules to render (it decides which endpoints
 * are local); `jumps` adds the rules in the built-in chains, which must be written
 * only once because --noflush leaves built-in chains alone.
 */
export function renderNat(
  config: ProxyConfig,
  node: string,
  opts: { jumps: boolean; stale?: string[]; family?: IpFamily; nfacct?: boolean },
): RenderedRules {
  const family = opts.family ?? 'IPv4';
  const ctx: Ctx = { config, family, node, nfacct: opts.nfacct === true, chains: [], rules: [] };
  const legacy = config.shape === 'legacy';
  declare(ctx, 'KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ');
  if (opts.jumps) {
    ctx.rules.push('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    ctx.rules.push('-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    ctx.rules.push('-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
  }
  if (legacy) {
    ctx.rules.push(`-A KUBE-MARK-MASQ -j MARK --set-xmark ${MASQ_MARK}/${MASQ_MARK}`);
    ctx.rules.push(
      `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark ${MASQ_MARK}/${MASQ_MARK} -j MASQUERADE`,
    );
  } else {
    ctx.rules.push(`-A KUBE-MARK-MASQ -j MARK --or-mark ${MASQ_MARK}`);
    ctx.rules.push(`-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`);
    ctx.rules.push(`-A KUBE-POSTROUTING -j MARK --xor-mark ${MASQ_MARK}`);
    ctx.rules.push(
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    );
  }
  for (const s of config.services) renderService(ctx, s, legacy);
  ctx.rules.push(
    `-A KUBE-SERVICES -m comment --comment ${NODEPORTS_COMMENT} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`,
  );
  const stale = (opts.stale ?? []).filter((c) => !ctx.chains.includes(c));
  const lines = [
    '*nat',
    ...ctx.chains.map((c) => `:${c} - [0:0]`),
    ...stale.map((c) => `:${c} - [0:0]`),
    ...ctx.rules,
    ...stale.map((c) => `-X ${c}`),
    'COMMIT',
    ...renderFilter(config, node, { jumps: opts.jumps, v6: ctx.family === 'IPv6' }),
    '',
  ];
  return { text: lines.join('\n'), chains: ctx.chains };
}

function declare(ctx: Ctx, ...chains: string[]): void {
  for (const c of chains) if (!ctx.chains.includes(c)) ctx.chains.push(c);
}

/** The prefix length of one address. */
const host = (ctx: Ctx) => (ctx.family === 'IPv6' ? 128 : 32);
/** xt_recent's --mask: the whole address. */
const fullMask = (ctx: Ctx) => (ctx.family === 'IPv6' ? 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' : '255.255.255.255');

function quote(comment: string): string {
  return `"${comment}"`;
}

function renderService(ctx: Ctx, s: KubeServicePort, legacy: boolean): void {
  const u = usableOn(ctx.config, s, ctx.node);
  if (!u.any) return; // kube-proxy writes no nat rules for a Service without usable endpoints
  const name = servicePortName(s);
  const p = s.protocol;
  const svc = serviceChain('KUBE-SVC', name, p);
  const svl = serviceChain('KUBE-SVL', name, p);
  const match = `-d ${s.clusterIP}/${host(ctx)} -p ${p} -m comment --comment ${quote(name + ' cluster IP')} -m ${p} --dport ${s.port}`;
  // Cluster-IP traffic goes to the local policy's chain under internalTrafficPolicy Local (the legacy shape predates it).
  const internal = s.internalTrafficPolicy === 'Local' ? svl : svc;
  if (u.clusterChain) declare(ctx, svc);
  if (u.localChain) declare(ctx, svl);
  if (u.internal && legacy) {
    ctx.rules.push(`-A KUBE-SERVICES ! -s ${ctx.config.clusterCIDR} ${match} -j KUBE-MARK-MASQ`);
    ctx.rules.push(`-A KUBE-SERVICES ${match} -j ${internal}`);
  } else if (u.internal) {
    ctx.rules.push(`-A KUBE-SERVICES ${match} -j ${internal}`);
    ctx.rules.push(`-A ${internal} ! -s ${ctx.config.clusterCIDR} ${match} -j KUBE-MARK-MASQ`);
  }
  if (u.clusterChain) balance(ctx, s, svc, sortedEndpoints(u.cluster), legacy ? 'legacy' : 'current');
  if (externallyAccessible(s)) {
    if (legacy) renderLegacyExternal(ctx, s, svc, u);
    else renderExternal(ctx, s, svc, svl, u);
  }
  if (u.localChain && !legacy) balance(ctx, s, svl, sortedEndpoints(u.local), 'current');
  for (const e of sortedEndpoints(u.reachable)) renderEndpoint(ctx, s, e, legacy);
}

/** Affinity checks, then the random cascade 1/n, 1/(n-1), ..., then the last endpoint. */
function balance(
  ctx: Ctx,
  s: KubeServicePort,
  chain: string,
  eps: KubeEndpoint[],
  style: 'current' | 'legacy' | 'xlb',
): void {
  const name = servicePortName(s);
  const comment = (e: KubeEndpoint) => quote(style === 'current' ? `${name} -> ${endpointText(e)}` : name);
  const sep = (e: KubeEndpoint) => endpointChain(name, s.protocol, endpointText(e));
  if (s.sessionAffinity === 'ClientIP') {
    const t = affinityTimeout(s);
    for (const e of eps) {
      const recent =
        style === 'current'
          ? `-m recent --name ${sep(e)} --rcheck --seconds ${t} --reap`
          : `-m recent --rcheck --seconds ${t} --reap --name ${sep(e)} --mask ${fullMask(ctx)} --rsource`;
      ctx.rules.push(`-A ${chain} -m comment --comment ${comment(e)} ${recent} -j ${sep(e)}`);
    }
  }
  const digits = style === 'current' ? 10 : 5;
  eps.forEach((e, i) => {
    const c = style === 'xlb' ? quote(`Balancing rule ${i} for ${name}`) : comment(e);
    const left = eps.length - i;
    const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(digits)}` : '';
    ctx.rules.push(`-A ${chain} -m comment --comment ${c}${stat} -j ${sep(e)}`);
  });
}

/** `-d IP -p P -m comment --comment "NAME WHAT" -m P --dport PORT` for one of the Service's addresses. */
function addressMatch(ctx: Ctx, s: KubeServicePort, ip: string, what: string): string {
  const p = s.protocol;
  return `-d ${ip}/${host(ctx)} -p ${p} -m comment --comment ${quote(`${servicePortName(s)} ${what}`)} -m ${p} --dport ${s.port}`;
}

/**
 * External destinations, current shape: external IPs (KUBE-SERVICES "external IP"), load-balancer IPs ("loadbalancer
 * IP", through KUBE-FW-* when loadBalancerSourceRanges admit only some sources: those go on to KUBE-EXT-*, the others
 * fall through and KUBE-PROXY-FIREWALL drops them in the filter table) and the NodePort all lead to KUBE-EXT-*.
 */
function renderExternal(ctx: Ctx, s: KubeServicePort, svc: string, svl: string, u: UsableEndpoints): void {
  const name = servicePortName(s);
  const p = s.protocol;
  const local = s.externalTrafficPolicy === 'Local';
  const ext = serviceChain('KUBE-EXT', name, p);
  declare(ctx, ext);
  for (const ip of s.externalIPs ?? [])
    ctx.rules.push(`-A KUBE-SERVICES ${addressMatch(ctx, s, ip, 'external IP')} -j ${ext}`);
  const fw = serviceChain('KUBE-FW', name, p);
  for (const ip of s.loadBalancerIPs ?? [])
    ctx.rules.push(`-A KUBE-SERVICES ${addressMatch(ctx, s, ip, 'loadbalancer IP')} -j ${usesFirewall(s) ? fw : ext}`);
  if (usesFirewall(s)) {
    declare(ctx, fw);
    for (const range of s.loadBalancerSourceRanges!)
      ctx.rules.push(`-A ${fw} -s ${range} -m comment --comment ${quote(`${name} loadbalancer IP`)} -j ${ext}`);
    ctx.rules.push(
      `-A ${fw} -m comment --comment ${quote(`other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL`)}`,
    );
  }
  if (s.nodePort !== undefined) {
    const port = `-p ${p} -m comment --comment ${quote(name)} -m ${p} --dport ${s.nodePort}`;
    if (ctx.nfacct && ctx.family === 'IPv4')
      ctx.rules.push(
        `-A KUBE-NODEPORTS -d 127.0.0.0/8 ${port} -m nfacct --nfacct-name ${LOCALHOST_NODEPORTS_COUNTER} -j ${ext}`,
      );
    ctx.rules.push(`-A KUBE-NODEPORTS ${port} -j ${ext}`);
  }
  if (!local) {
    ctx.rules.push(
      `-A ${ext} -m comment --comment ${quote(`masquerade traffic for ${name} external destinations`)} -j KUBE-MARK-MASQ`,
    );
    if (u.external) ctx.rules.push(`-A ${ext} -j ${svc}`);
    return;
  }
  ctx.rules.push(
    `-A ${ext} -s ${ctx.config.clusterCIDR} -m comment --comment ${quote(`pod traffic for ${name} external destinations`)} -j ${svc}`,
  );
  ctx.rules.push(
    `-A ${ext} -m comment --comment ${quote(`masquerade LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
  );
  ctx.rules.push(
    `-A ${ext} -m comment --comment ${quote(`route LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${svc}`,
  );
  if (u.external) ctx.rules.push(`-A ${ext} -j ${svl}`);
}

/**
 * External destinations in the older shape of the seed dumps: a Local Service's go to KUBE-XLB-* (pods redirected to the
 * cluster-wide chain, the node's own endpoints balanced), a Cluster one's to KUBE-SVC-* after KUBE-MARK-MASQ; a
 * load-balancer IP always through KUBE-FW-*, which admits the source ranges (every source without any) and marks the
 * rest with KUBE-MARK-DROP for the filter table's KUBE-FIREWALL.
 */
function renderLegacyExternal(ctx: Ctx, s: KubeServicePort, svc: string, u: UsableEndpoints): void {
  const name = servicePortName(s);
  const p = s.protocol;
  const local = s.externalTrafficPolicy === 'Local';
  let to = svc;
  if (local) {
    to = serviceChain('KUBE-XLB', name, p);
    declare(ctx, to);
    ctx.rules.push(
      `-A ${to} -s ${ctx.config.clusterCIDR} -m comment --comment "Redirect pods trying to reach external loadbalancer VIP to clusterIP" -j ${svc}`,
    );
    balance(ctx, s, to, sortedEndpoints(u.local), 'xlb');
  }
  for (const ip of s.externalIPs ?? []) {
    const match = addressMatch(ctx, s, ip, 'external IP');
    if (!local) ctx.rules.push(`-A KUBE-SERVICES ${match} -j KUBE-MARK-MASQ`);
    ctx.rules.push(`-A KUBE-SERVICES ${match} -j ${to}`);
  }
  if ((s.loadBalancerIPs ?? []).length > 0) {
    const fw = serviceChain('KUBE-FW', name, p);
    const lb = `-m comment --comment ${quote(`${name} loadbalancer IP`)}`;
    if (!ctx.chains.includes('KUBE-MARK-DROP')) {
      declare(ctx, 'KUBE-MARK-DROP');
      ctx.rules.push(`-A KUBE-MARK-DROP -j MARK --set-xmark ${DROP_MARK}/${DROP_MARK}`);
    }
    declare(ctx, fw);
    for (const ip of s.loadBalancerIPs!)
      ctx.rules.push(`-A KUBE-SERVICES ${addressMatch(ctx, s, ip, 'loadbalancer IP')} -j ${fw}`);
    if (!local) ctx.rules.push(`-A ${fw} ${lb} -j KUBE-MARK-MASQ`);
    const ranges = s.loadBalancerSourceRanges ?? [];
    if (ranges.length === 0) ctx.rules.push(`-A ${fw} ${lb} -j ${to}`);
    for (const range of ranges) ctx.rules.push(`-A ${fw} -s ${range} ${lb} -j ${to}`);
    ctx.rules.push(`-A ${fw} ${lb} -j KUBE-MARK-DROP`);
  }
  if (s.nodePort === undefined) return;
  const port = `-p ${p} -m comment --comment ${quote(name)} -m ${p} --dport ${s.nodePort}`;
  if (!local) ctx.rules.push(`-A KUBE-NODEPORTS ${port} -j KUBE-MARK-MASQ`);
  ctx.rules.push(`-A KUBE-NODEPORTS ${port} -j ${to}`);
}

function renderEndpoint(ctx: Ctx, s: KubeServicePort, e: KubeEndpoint, legacy: boolean): void {
  const name = servicePortName(s);
  const p = s.protocol;
  const sep = endpointChain(name, p, endpointText(e));
  declare(ctx, sep);
  ctx.rules.push(`-A ${sep} -s ${e.ip}/${host(ctx)} -m comment --comment ${quote(name)} -j KUBE-MARK-MASQ`);
  let recent = '';
  if (s.sessionAffinity === 'ClientIP') {
    recent = legacy
      ? ` -m recent --set --name ${sep} --mask ${fullMask(ctx)} --rsource`
      : ` -m recent --name ${sep} --set`;
  }
  ctx.rules.push(
    `-A ${sep} -p ${p} -m comment --comment ${quote(name)}${recent} -m ${p} -j DNAT --to-destination ${endpointText(e)}`,
  );
}
