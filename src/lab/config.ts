// The lab's declarative description: nodes, clients, backends and Services with their
// endpoints, the way the Kubernetes API would describe them to kube-proxy.
import { InputError, UsageError } from '../core/errors.js';

import type { ProxyMode } from '../core/event.js';
import { familyOf, type IpFamily } from './ip-family.js';
import { sliceEndpoints, trafficDistributions } from './endpoint-slices.js';
import {
  kubeVersions,
  servicePortName,
  type KubeEndpoint,
  type KubeServicePort,
  type KubeVersion,
  type RuleShape,
} from '../kube-proxy/model.js';

// The lab's Services are kube-proxy's view of them (src/kube-proxy/model.ts), under the lab's names.
export { servicePortName, type KubeVersion, type RuleShape };
export type LabEndpoint = KubeEndpoint;
/** A Service port as kube-proxy sees it, with what the lab's EndpointSlice controller reads (endpoint-slices.ts). */
export type LabServiceSpec = KubeServicePort & {
  /** spec.trafficDistribution: the hints the EndpointSlice controller gives the endpoints. */
  trafficDistribution?: (typeof trafficDistributions)[number];
};

export type { IpFamily };

export type { ProxyMode };
interface LabBackendSpec {
  name: string;
  node: string;
}

export interface LabConfig {
  /** iptables mode's rule shape. */
  shape: RuleShape;
  /** Absent in older state files: iptables. */
  proxyMode?: ProxyMode;
  /** nftables mode's shape, by the kube-proxy version that writes it (default 1.35). */
  kubeVersion?: KubeVersion;
  /** 1 to MAX_NODES nodes; the others hang off the first, each on its own link. */
  nodes: number;
  /** Pod CIDR: sources outside it are masqueraded (KUBE-MARK-MASQ). */
  clusterCIDR: string;
  /** The lab's families: IPv4 always, IPv6 beside it for a dual-stack lab (every leaf and node gets both). */
  ipFamilies?: IpFamily[];
  /** The IPv6 pod CIDR (dual-stack labs; default fd00::/31, the twins of 10.0.0.0/15). */
  clusterCIDR6?: string;
  /** Pod clients c1..cN. */
  clients: number;
  /** Clients outside the pod CIDR, x1..xN. */
  externalClients: number;
  /**
   * Extra source addresses on client c1, inside the pod CIDR (addressing.extraSource):
   * many affinity keys from one namespace, e.g. more clients than an xt_recent list holds.
   */
  extraSources?: number;
  /**
   * External clients are wired to node 2 as well (two nodes only), with the same
   * address: routeVia() picks the node their traffic enters, so one client can reach
   * one Service address through either node.
   */
  dualHomed?: boolean;
  backends: LabBackendSpec[];
  services: LabServiceSpec[];
  /** topology.kubernetes.io/zone of each node that has one, by short node name ("node", "node2"). */
  zones?: Record<string, string>;
}

/** Nodes a lab may have: node 1 routes for the others, and a zone per node is enough to show topology. */
export const MAX_NODES = 4;

/** Short node names by index: the netns is `${prefix}-${name}`. */
export function nodeName(index: number): string {
  return index === 0 ? 'node' : `node${index + 1}`;
}

/** Addresses are fixed by position so a config needs no address plan. */
export const addressing = {
  clientIP: (i: number) => `10.0.${i}.2`,
  clientGateway: (i: number) => `10.0.${i}.1`,
  externalIP: (i: number) => `10.2.${i}.2`,
  externalGateway: (i: number) => `10.2.${i}.1`,
  backendIP: (j: number) => `10.1.${j}.2`,
  backendGateway: (j: number) => `10.1.${j}.1`,
  /** The node's own address (on its loopback), where NodePorts answer. */
  nodeIP: (k: number) => `10.3.0.${k + 1}`,
  /** Extra source n (0-based) of client c1: 10.0.252.1 upward, in a /22 no client or backend uses. */
  extraSource: (n: number) => `10.0.${252 + ((n + 1) >> 8)}.${(n + 1) & 255}`,
  extraSourceRange: '10.0.252.0/22',
  /** A load-balancer ingress IP, and an external IP (spec.externalIPs), by Service number. */
  loadBalancerIP: (n: number) => `10.5.0.${n}`,
  externalServiceIP: (n: number) => `10.5.1.${n}`,
  /** Where both are: node 1 routes it onward as it does the Service range. */
  externalServiceRange: '10.5.0.0/16',
  /** The link between node 1 (`hub`) and node k + 1 (`spoke`), k >= 1: a /30 each. */
  nodeLink: (k: number) => ({ hub: `10.4.${k}.1`, spoke: `10.4.${k}.2` }),
};

/** How kube-proxy programs the lab's nodes: a scenario or `lab up` builds its lab in this mode. */
export interface ProxySetup {
  proxyMode: ProxyMode;
  /** nftables mode's shape (default 1.35). */
  kubeVersion?: KubeVersion;
}

/** Checks the `--proxy-mode` and `--kube-version` flags; undefined fields stay undefined. */
export function parseProxyFlags(proxyMode?: string, kubeVersion?: string): Partial<ProxySetup> {
  if (proxyMode !== undefined && proxyMode !== 'iptables' && proxyMode !== 'nftables')
    throw new UsageError(`--proxy-mode expects iptables or nftables; got '${proxyMode}'`);
  if (kubeVersion !== undefined && !kubeVersions.includes(kubeVersion as KubeVersion))
    throw new UsageError(`--kube-version expects one of ${kubeVersions.join(', ')}; got '${kubeVersion}'`);
  return {
    ...(proxyMode !== undefined ? { proxyMode } : {}),
    ...(kubeVersion !== undefined ? { kubeVersion: kubeVersion as KubeVersion } : {}),
  };
}

/** "iptables mode" or "nftables mode, kube-proxy 1.36 shape". */
export function describeMode(c: Pick<LabConfig, 'proxyMode' | 'kubeVersion'>): string {
  return c.proxyMode === 'nftables' ? `nftables mode, kube-proxy ${c.kubeVersion ?? '1.35'} shape` : 'iptables mode';
}

export const defaultClusterCIDR6 = 'fd00::/31';

export { defaultConfig } from './default-config.js';

export function labFamilies(c: Pick<LabConfig, 'ipFamilies'>): IpFamily[] {
  return c.ipFamilies ?? ['IPv4'];
}

/** A Service's addresses by family, primary first. */
export function serviceAddresses(
  s: Pick<LabServiceSpec, 'clusterIP' | 'clusterIPs'>,
): { family: IpFamily; ip: string }[] {
  return (s.clusterIPs ?? [s.clusterIP]).map((ip) => ({ family: familyOf(ip) ?? 'IPv4', ip }));
}

/**
 * What kube-proxy's proxier for one family sees: the Services with an address of that family, that address as their
 * cluster IP, their endpoints of that family, and that family's pod CIDR.
 */
export function familyView(c: LabConfig, family: IpFamily): LabConfig {
  const services = c.services.flatMap((s) => {
    const addr = serviceAddresses(s).find((a) => a.family === family);
    if (!addr) return [];
    const ofFamily = (ips: string[] | undefined) => ips?.filter((ip) => familyOf(ip.replace(/\/\d+$/, '')) === family);
    return [
      {
        ...s,
        clusterIP: addr.ip,
        endpoints: sliceEndpoints(c, s).filter((e) => familyOf(e.ip) === family),
        ...(s.externalIPs ? { externalIPs: ofFamily(s.externalIPs) } : {}),
        ...(s.loadBalancerIPs ? { loadBalancerIPs: ofFamily(s.loadBalancerIPs) } : {}),
        ...(s.loadBalancerSourceRanges ? { loadBalancerSourceRanges: ofFamily(s.loadBalancerSourceRanges) } : {}),
      },
    ];
  });
  const clusterCIDR = family === 'IPv6' ? (c.clusterCIDR6 ?? defaultClusterCIDR6) : c.clusterCIDR;
  return { ...c, clusterCIDR, services };
}

/** The /22 of extra sources less its first and last address. */
const MAX_EXTRA_SOURCES = 1022;

/** Rejects configs the lab cannot build, naming the field that is wrong. */
export function validateConfig(c: LabConfig): void {
  const fail = (what: string, seen: unknown) => {
    throw new InputError(`invalid lab config: ${what}; got ${JSON.stringify(seen)}`);
  };
  if (c.shape !== 'current' && c.shape !== 'legacy') fail("shape must be 'current' or 'legacy'", c.shape);
  if (c.proxyMode !== undefined && c.proxyMode !== 'iptables' && c.proxyMode !== 'nftables')
    fail("proxyMode must be 'iptables' or 'nftables'", c.proxyMode);
  if (c.kubeVersion !== undefined && !kubeVersions.includes(c.kubeVersion))
    fail(`kubeVersion must be one of ${kubeVersions.join(', ')}`, c.kubeVersion);
  if (!Number.isInteger(c.nodes) || c.nodes < 1 || c.nodes > MAX_NODES) fail(`nodes must be 1..${MAX_NODES}`, c.nodes);
  if (!Number.isInteger(c.clients) || c.clients < 0 || c.clients > 250) fail('clients must be 0..250', c.clients);
  if (!Number.isInteger(c.externalClients) || c.externalClients < 0 || c.externalClients > 250)
    fail('externalClients must be 0..250', c.externalClients);
  const extra = c.extraSources ?? 0;
  if (!Number.isInteger(extra) || extra < 0 || extra > MAX_EXTRA_SOURCES)
    fail(`extraSources must be 0..${MAX_EXTRA_SOURCES}`, c.extraSources);
  if (extra > 0 && c.clients < 1) fail('extraSources needs client c1 (clients >= 1)', c.clients);
  if (c.dualHomed && c.nodes !== 2) fail('dualHomed needs nodes: 2', c.nodes);
  if (c.backends.length < 1 || c.backends.length > 250) fail('backends must number 1..250', c.backends.length);
  const nodes = new Set(Array.from({ length: c.nodes }, (_, k) => nodeName(k)));
  for (const b of c.backends)
    if (!nodes.has(b.node)) fail(`backend ${b.name} is on an unknown node (nodes: ${[...nodes].join(', ')})`, b.node);
  const families = labFamilies(c);
  if (
    !Array.isArray(families) ||
    families[0] !== 'IPv4' ||
    families.length > 2 ||
    (families.length === 2 && families[1] !== 'IPv6')
  )
    fail("ipFamilies must be ['IPv4'] or ['IPv4', 'IPv6']", c.ipFamilies);
  if (c.clusterCIDR6 !== undefined && !/^[0-9a-f:]+\/\d{1,3}$/i.test(c.clusterCIDR6))
    fail('clusterCIDR6 must be an IPv6 prefix like fd00::/31', c.clusterCIDR6);
  validateZones(c, nodes, fail);
  const names = new Set<string>();
  for (const s of c.services) {
    const key = servicePortName(s);
    if (names.has(key)) fail('service port names must be unique', key);
    names.add(key);
    validateFamilies(key, s, families, fail);
    if (s.protocol !== 'tcp' && s.protocol !== 'udp') fail(`${key}: protocol must be tcp or udp`, s.protocol);
    if (s.sessionAffinity === 'ClientIP' && s.timeoutSeconds !== undefined && !(s.timeoutSeconds > 0))
      fail(`${key}: timeoutSeconds must be > 0`, s.timeoutSeconds);
    if (s.affinitySetSize !== undefined && !(Number.isInteger(s.affinitySetSize) && s.affinitySetSize >= 1))
      fail(`${key}: affinitySetSize must be a positive integer`, s.affinitySetSize);
    validateExternal(key, s, fail);
    validatePolicies(key, s, c.shape, fail);
    validateEndpoints(
      key,
      s.endpoints,
      nodes,
      serviceAddresses(s).map((a) => a.family),
    );
  }
}

function validateFamilies(
  key: string,
  s: LabServiceSpec,
  labFamilyList: IpFamily[],
  fail: (what: string, seen: unknown) => never,
): void {
  if (s.clusterIPs !== undefined) {
    if (!Array.isArray(s.clusterIPs) || s.clusterIPs.length < 1 || s.clusterIPs.length > 2)
      fail(`${key}: clusterIPs must hold one or two addresses`, s.clusterIPs);
    if (s.clusterIPs[0] !== s.clusterIP) fail(`${key}: clusterIPs[0] must be clusterIP (${s.clusterIP})`, s.clusterIPs);
  }
  const addrs = s.clusterIPs ?? [s.clusterIP];
  const fams = addrs.map((ip) => familyOf(String(ip)));
  if (fams.some((f) => f === null)) fail(`${key}: cluster IPs must be IPv4 or IPv6 addresses`, addrs);
  if (new Set(fams).size !== fams.length) fail(`${key}: one cluster IP per family`, addrs);
  if (s.ipFamilies !== undefined && JSON.stringify(s.ipFamilies) !== JSON.stringify(fams))
    fail(`${key}: ipFamilies must name the families of clusterIPs in order (${fams.join(', ')})`, s.ipFamilies);
  for (const f of fams)
    if (!labFamilyList.includes(f!))
      fail(`${key}: an ${f} Service needs a lab with ${f} (ipFamilies ${JSON.stringify(labFamilyList)})`, addrs);
}

/** A label value, as topology.kubernetes.io/zone must be. */
const isLabelValue = (v: unknown) =>
  typeof v === 'string' && v.length <= 63 && /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(v) && v !== '';

function validateZones(c: LabConfig, nodes: Set<string>, fail: (what: string, seen: unknown) => never): void {
  if (c.zones === undefined) return;
  if (typeof c.zones !== 'object' || c.zones === null || Array.isArray(c.zones))
    fail('zones must map node names to zone names', c.zones);
  for (const [node, zone] of Object.entries(c.zones)) {
    if (!nodes.has(node)) fail(`zones names node '${node}', not one of ${[...nodes].join(', ')}`, c.zones);
    if (!isLabelValue(zone)) fail(`zones: node ${node}'s zone must be a label value like eu-west-1a`, zone);
  }
}

/** Traffic policies and topology: what the lab models, with the kube-proxy shape that has it. */
function validatePolicies(
  key: string,
  s: LabServiceSpec,
  shape: RuleShape,
  fail: (what: string, seen: unknown) => never,
): void {
  const itp = s.internalTrafficPolicy;
  if (itp !== undefined && itp !== 'Cluster' && itp !== 'Local')
    fail(`${key}: internalTrafficPolicy must be Cluster or Local`, itp);
  if (itp === 'Local' && shape === 'legacy')
    fail(`${key}: internalTrafficPolicy Local needs shape 'current' (the KUBE-XLB shape predates it)`, itp);
  if (itp === 'Local' && s.externalTrafficPolicy === 'Local')
    fail(`${key}: both traffic policies Local is not modelled by the lab; keep one of them Cluster`, s);
  if (s.trafficDistribution !== undefined && !trafficDistributions.includes(s.trafficDistribution))
    fail(`${key}: trafficDistribution must be one of ${trafficDistributions.join(', ')}`, s.trafficDistribution);
  for (const e of s.endpoints) {
    if (e.zone !== undefined && !isLabelValue(e.zone)) fail(`${key}: an endpoint's zone must be a label value`, e);
    const h = e.hints;
    const names = (v: unknown) => v === undefined || (Array.isArray(v) && v.every(isLabelValue));
    if (h !== undefined && (typeof h !== 'object' || h === null || !names(h.zones) || !names(h.nodes)))
      fail(`${key}: an endpoint's hints must be { zones?: [names], nodes?: [names] }`, e);
    for (const f of ['ready', 'serving', 'terminating'] as const)
      if (e[f] !== undefined && typeof e[f] !== 'boolean') fail(`${key}: an endpoint's ${f} must be true or false`, e);
  }
}

/** External IPs, load-balancer IPs and source ranges: addresses and prefixes, ranges only beside load-balancer IPs. */
function validateExternal(key: string, s: LabServiceSpec, fail: (what: string, seen: unknown) => never): void {
  const list = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
  for (const field of ['externalIPs', 'loadBalancerIPs', 'loadBalancerSourceRanges'] as const)
    if (!list(s[field])) fail(`${key}: ${field} must be a list of strings`, s[field]);
  for (const ip of [...(s.externalIPs ?? []), ...(s.loadBalancerIPs ?? [])])
    if (familyOf(ip) === null) fail(`${key}: external and load-balancer IPs must be IPv4 or IPv6 addresses`, ip);
  for (const range of s.loadBalancerSourceRanges ?? []) {
    const [ip, len] = range.split('/');
    const bits = familyOf(ip ?? '') === 'IPv6' ? 128 : 32;
    if (familyOf(ip ?? '') === null || !/^\d{1,3}$/.test(len ?? '') || Number(len) > bits)
      fail(`${key}: loadBalancerSourceRanges must be prefixes like 10.2.0.0/16`, range);
  }
  if ((s.loadBalancerSourceRanges ?? []).length > 0 && (s.loadBalancerIPs ?? []).length === 0)
    fail(`${key}: loadBalancerSourceRanges need loadBalancerIPs to apply to`, s.loadBalancerSourceRanges);
}

export function validateEndpoints(
  service: string,
  eps: LabEndpoint[],
  nodes: Set<string>,
  families: IpFamily[] = ['IPv4'],
): void {
  for (const e of eps) {
    const family = familyOf(String(e.ip));
    if (family === null || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535) {
      throw new InputError(
        `invalid endpoint for ${service}: expected ip:port with an IP address and port 1..65535; got ${JSON.stringify(e)}`,
      );
    }
    if (family === 'IPv6' && /^::ffff:/i.test(String(e.ip)))
      throw new InputError(
        `invalid endpoint for ${service}: ${e.ip} is an IPv4-mapped address; give the IPv4 address (kube-proxy's endpoints are one family each)`,
      );
    if (!families.includes(family))
      throw new InputError(
        `invalid endpoint for ${service}: ${e.ip} is ${family} but the Service is ${families.join('/')} only`,
      );
    if (!nodes.has(e.node))
      throw new InputError(`invalid endpoint for ${service}: node '${e.node}' is not one of ${[...nodes].join(', ')}`);
  }
}

/** Finds a service by "ns/name:port", or by "ns/name" when that names one port only. */
export function findService<T extends LabServiceSpec>(services: T[], name: string): T {
  const exact = services.find((s) => servicePortName(s) === name);
  if (exact) return exact;
  const byName = services.filter((s) => `${s.namespace}/${s.name}` === name);
  if (byName.length === 1) return byName[0]!;
  const known = services.map((s) => servicePortName(s)).join(', ');
  throw new UsageError(
    `unknown lab service '${name}'${byName.length > 1 ? ' (several ports; name one)' : ''}; expected one of: ${known}`,
  );
}
