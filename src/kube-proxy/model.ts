// What kube-proxy renders from: one proxier's Service ports with their endpoints (what the API's Services and
// EndpointSlices say to it), the rule shape and the pod CIDR. The lab describes its Services in these terms, and the
// renderers beside this file write the rules kube-proxy would write for them.
import type { IpFamily } from '../core/ip.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from '../core/event.js';

/** iptables mode's rule shape: current kube-proxy's, or the older one of the seed dumps (KUBE-XLB, --set-xmark). */
export type RuleShape = 'current' | 'legacy';
/** The protocols the lab's Services use. */
type KubeProto = 'tcp' | 'udp';
/** nftables mode's rule shape changed in 1.36 (inline DNAT maps, no mark-for-masquerade chain). */
export const kubeVersions = ['1.35', '1.36'] as const;
export type KubeVersion = (typeof kubeVersions)[number];

export interface KubeEndpoint {
  ip: string;
  port: number;
  /** Pod name (the backend's name in the lab). */
  pod: string;
  /** Short node name the pod runs on: "node" or "node2". */
  node: string;
  /** The EndpointSlice's `zone` (its node's topology.kubernetes.io/zone). */
  zone?: string;
  /** The EndpointSlice's hints: `forZones` and `forNodes` names (the EndpointSlice controller's, from the Service). */
  hints?: { zones?: string[]; nodes?: string[] };
  /** conditions.ready (absent: true), conditions.serving and conditions.terminating (absent: false). */
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface KubeServicePort {
  namespace: string;
  name: string;
  /** Port name; "" for an unnamed port (then the service is "ns/name"). */
  portName: string;
  /** The primary address: clusterIPs[0] (IPv6 for an IPv6-only Service). */
  clusterIP: string;
  /**
   * Dual-stack: the Service's families in order, as spec.ipFamilies, and one address of each (spec.clusterIPs). Absent:
   * one family, that of clusterIP. kube-proxy writes each family's rules from the endpoints of that family.
   */
  ipFamilies?: IpFamily[];
  clusterIPs?: string[];
  port: number;
  protocol: KubeProto;
  sessionAffinity: 'None' | 'ClientIP';
  /** sessionAffinityConfig.clientIP.timeoutSeconds (Kubernetes default 10800). */
  timeoutSeconds?: number;
  nodePort?: number;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  /** spec.internalTrafficPolicy: Local keeps cluster-IP traffic on the client's node (absent: Cluster). */
  internalTrafficPolicy?: 'Cluster' | 'Local';
  /** spec.externalIPs: further addresses that lead, like a NodePort, through the external chain. */
  externalIPs?: string[];
  /** status.loadBalancer.ingress[].ip: the load balancer's addresses, through the external chain too. */
  loadBalancerIPs?: string[];
  /**
   * spec.loadBalancerSourceRanges: the sources the load-balancer IPs admit (all when absent). kube-proxy refuses the
   * others before DNAT: nftables `firewall-ips` to a `firewall-*` chain, iptables `KUBE-FW-*` and `KUBE-PROXY-FIREWALL`.
   * NodePorts and external IPs are not subject to them.
   */
  loadBalancerSourceRanges?: string[];
  endpoints: KubeEndpoint[];
  /**
   * nftables mode only: `size` of each affinity set, so that it can fill. kube-proxy leaves it unset (the kernel caps
   * a dynamic set at 65535); a full set adds no new client, which then is simply not pinned.
   */
  affinitySetSize?: number;
}

/** What one of kube-proxy's proxiers (one family) renders from. */
export interface ProxyConfig {
  shape: RuleShape;
  /** nftables mode's shape, by the kube-proxy version that writes it (default 1.35). */
  kubeVersion?: KubeVersion;
  /** Pod CIDR: sources outside it are masqueraded. */
  clusterCIDR: string;
  services: KubeServicePort[];
  /** topology.kubernetes.io/zone of each node that has one, by short node name. */
  zones?: Record<string, string>;
}

/** "ns/name:port", or "ns/name" for an unnamed port: kube-proxy's ServicePortName. */
export function servicePortName(s: Pick<KubeServicePort, 'namespace' | 'name' | 'portName'>): string {
  return `${s.namespace}/${s.name}${s.portName ? ':' + s.portName : ''}`;
}

export function affinityTimeout(s: KubeServicePort): number {
  return s.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
}

/** The Service port's external IPs and load-balancer IPs: the addresses that go to its external chain. */
export function externalAddresses(s: KubeServicePort): string[] {
  return [...(s.externalIPs ?? []), ...(s.loadBalancerIPs ?? [])];
}

/** kube-proxy's ExternallyAccessible: a NodePort, an external IP or a load-balancer IP leads to the external chain. */
export function externallyAccessible(s: KubeServicePort): boolean {
  return s.nodePort !== undefined || externalAddresses(s).length > 0;
}

/** kube-proxy's usesFWChain: load-balancer IPs with source ranges get a firewall chain. */
export function usesFirewall(s: KubeServicePort): boolean {
  return (s.loadBalancerIPs ?? []).length > 0 && (s.loadBalancerSourceRanges ?? []).length > 0;
}
