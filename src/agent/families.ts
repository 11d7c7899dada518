// One node catalog from the IPv4 and the IPv6 rules: kube-proxy keeps a table per family (iptables and ip6tables,
// `ip kube-proxy` and `ip6 kube-proxy`), each naming the same Services by the same "ns/name:port".
import type { NatCatalog } from '../kube-proxy/iptables-parse.js';

const byKey = (a: { service: string }, b: { service: string }) =>
  a.service < b.service ? -1 : a.service > b.service ? 1 : 0;

/**
 * Both families' catalogs as one: Services and affinity lists side by side (their keys and list names differ by
 * family), NodePorts kept per family since a NodePort the IPv4 rules open may be closed to IPv6. The mode is the
 * IPv4 rules' unless only the IPv6 rules describe Services (an IPv6-only node).
 */
export function mergeFamilies(v4: NatCatalog | null, v6: NatCatalog | null): NatCatalog | null {
  if (!v6) return v4;
  // IPv4 rules unreadable: the IPv6 ones name what they can, but an empty IPv6 catalog says nothing about the node.
  if (!v4) return v6.services.length > 0 ? { ...v6, nodePorts: new Map(), nodePorts6: v6.nodePorts } : null;
  const mode = v4.services.length === 0 && v6.services.length > 0 ? v6.mode : v4.mode;
  return {
    mode,
    services: [...v4.services, ...v6.services].sort(byKey),
    lists: new Map([...v4.lists, ...v6.lists]),
    nodePorts: v4.nodePorts,
    nodePorts6: v6.nodePorts,
  };
}
