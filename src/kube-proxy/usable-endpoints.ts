// Which of a Service port's endpoints one node's kube-proxy uses, as kube-proxy 1.35 decides it (pkg/proxy/topology.go,
// CategorizeEndpoints; the policy chains and refusals as its iptables and nftables proxiers derive them): the lab
// writes each node's rules from this. Written down in docs/lab.md ("Topology").
// - Cluster policy: the ready endpoints, narrowed by the hints when every ready endpoint has one: to those hinted for
//   this node (PreferSameNode) when one is, else to those hinted for this node's zone (PreferSameZone) when one is;
//   serving-terminating endpoints when none is ready anywhere.
// - Local policy: this node's ready endpoints, else its serving-terminating ones.
import { joinHostPort } from '../core/ip.js';
import { externallyAccessible, type KubeEndpoint, type KubeServicePort, type ProxyConfig } from './model.js';

type TopologyMode = '' | 'PreferSameNode' | 'PreferSameZone';

export interface UsableEndpoints {
  /** The cluster policy's endpoints (empty when the Service uses the Local policy only). */
  cluster: KubeEndpoint[];
  /** The local policy's endpoints (empty when no policy of the Service is Local). */
  local: KubeEndpoint[];
  /** Every endpoint this node's rules reach: the union of the two, in the Service's order. */
  reachable: KubeEndpoint[];
  /** Some endpoint anywhere is usable: false makes kube-proxy refuse the Service's connections. */
  any: boolean;
  /** How the cluster endpoints were narrowed ('' for none). */
  mode: TopologyMode;
  /** kube-proxy's usesClusterPolicyChain and usesLocalPolicyChain: the chains the node's rules have. */
  clusterChain: boolean;
  localChain: boolean;
  /** Cluster-IP traffic has somewhere to go on this node (else: refused, or dropped under the Local policy). */
  internal: boolean;
  /** The same for external destinations (NodePorts, external and load-balancer IPs). */
  external: boolean;
}

const ready = (e: KubeEndpoint) => e.ready !== false;
const servingTerminating = (e: KubeEndpoint) => !ready(e) && e.serving === true && e.terminating === true;

/** Internal traffic (cluster IPs) or external traffic (NodePorts, external and load-balancer IPs) kept on the node. */
const usesLocal = (s: KubeServicePort) =>
  s.internalTrafficPolicy === 'Local' || (s.externalTrafficPolicy === 'Local' && externallyAccessible(s));
const usesCluster = (s: KubeServicePort) =>
  s.internalTrafficPolicy !== 'Local' || (s.externalTrafficPolicy !== 'Local' && externallyAccessible(s));

/** kube-proxy's topologyModeFromHints: the narrowing every ready endpoint's hints allow on this node. */
function topologyMode(endpoints: KubeEndpoint[], node: string, zone: string | undefined): TopologyMode {
  const live = endpoints.filter(ready);
  if (live.length === 0) return '';
  if (live.every((e) => (e.hints?.nodes ?? []).length > 0) && live.some((e) => e.hints!.nodes!.includes(node)))
    return 'PreferSameNode';
  if (
    zone !== undefined &&
    live.every((e) => (e.hints?.zones ?? []).length > 0) &&
    live.some((e) => e.hints!.zones!.includes(zone))
  )
    return 'PreferSameZone';
  return '';
}

/**
 * Why `node` uses every ready endpoint though some carry hints, in kube-proxy's words (its log lines, which are all it
 * says): undefined when the hints narrow the endpoints here, or when no ready endpoint has a hint.
 */
export function hintsIgnored(endpoints: KubeEndpoint[], node: string, zone: string | undefined): string | undefined {
  const live = endpoints.filter(ready);
  const hinted = (f: 'zones' | 'nodes') => live.filter((e) => (e.hints?.[f] ?? []).length > 0);
  if (topologyMode(endpoints, node, zone) !== '' || (hinted('zones').length === 0 && hinted('nodes').length === 0))
    return undefined;
  const unhinted = live.find((e) => (e.hints?.zones ?? []).length === 0);
  if (unhinted) return `same-zone hints ignored: endpoint ${joinHostPort(unhinted.ip, unhinted.port)} has no zone hint`;
  if (zone === undefined) return 'same-zone hints ignored: the node has no topology.kubernetes.io/zone label';
  return `same-zone hints ignored: no endpoint is hinted for zone ${zone}`;
}

function inTopology(e: KubeEndpoint, mode: TopologyMode, node: string, zone: string | undefined): boolean {
  if (mode === 'PreferSameNode') return e.hints?.nodes?.includes(node) ?? false;
  if (mode === 'PreferSameZone') return zone !== undefined && (e.hints?.zones?.includes(zone) ?? false);
  return true;
}

/** The endpoints `node` (in `zone`, when the node has a zone label) uses for each of the Service's policies. */
export function usableEndpoints(s: KubeServicePort, node: string, zone?: string): UsableEndpoints {
  const eps = s.endpoints;
  let cluster: KubeEndpoint[] = [];
  let local: KubeEndpoint[] = [];
  let mode: TopologyMode = '';
  if (usesCluster(s)) {
    mode = topologyMode(eps, node, zone);
    cluster = eps.filter((e) => ready(e) && inTopology(e, mode, node, zone));
    if (cluster.length === 0) cluster = eps.filter(servingTerminating);
  }
  let any = cluster.length > 0;
  if (usesLocal(s)) {
    any ||= eps.some((e) => ready(e) || servingTerminating(e));
    const mine = eps.filter((e) => e.node === node);
    local = mine.filter(ready);
    if (local.length === 0) local = mine.filter(servingTerminating);
  }
  const reachable = eps.filter((e) => cluster.includes(e) || local.includes(e));
  return {
    cluster,
    local,
    reachable,
    any,
    mode,
    clusterChain: cluster.length > 0,
    localChain: local.length > 0,
    internal: any && (s.internalTrafficPolicy !== 'Local' || local.length > 0),
    external: any && (s.externalTrafficPolicy !== 'Local' || local.length > 0),
  };
}

/** The same on one of a config's nodes, in the zone the config gives it. */
export function usableOn(config: Pick<ProxyConfig, 'zones'>, s: KubeServicePort, node: string): UsableEndpoints {
  return usableEndpoints(s, node, config.zones?.[node]);
}
