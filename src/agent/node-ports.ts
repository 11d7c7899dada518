// NodePort Services by the node address they are reached at, learned from the traffic: each learned address gets a
// catalog entry per NodePort, named for its Service, so flows through it are named and judged like the Service's.
import type { Proto, ServiceInfo } from '../core/event.js';
import type { NatCatalog } from '../kube-proxy/iptables-parse.js';

/** Node addresses kept; a node has a handful, so more means something else is going on. */
const MAX_ADDRESSES = 64;

const byKey = (a: ServiceInfo, b: ServiceInfo) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0);

/**
 * kube-proxy sends traffic to any of the node's own addresses (`-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`) at a
 * NodePort on to the Service; the rules name ports, not addresses. A translated flow to an address the rules do not
 * list, at a NodePort, went through KUBE-NODEPORTS, so the kernel found that address to be the node's own. Learning
 * from traffic lists only the addresses in use, and costs no read of the node's interfaces.
 */
export class NodePortCatalog {
  private rules: NatCatalog | null = null;
  private listed = new Set<string>();
  /** Node addresses learned, as flows write them ("10.3.0.1", "[fd00:3::1]"). */
  private readonly addresses = new Set<string>();

  setRules(c: NatCatalog): void {
    this.rules = c;
    this.listed = new Set(c.services.map((s) => s.service));
  }

  /**
   * Whether a translated flow to `service` ("ip:port") taught a node address not known
   * before: the rules do not list the address, and the port is a NodePort.
   */
  learn(service: string, proto: Proto): boolean {
    const i = service.lastIndexOf(':');
    const host = service.slice(0, i);
    // Each family's rules open their own NodePorts: an IPv6 flow went through the IPv6 rules' KUBE-NODEPORTS.
    const ports = this.portsOf(host);
    if (!ports || ports.size === 0 || this.addresses.size >= MAX_ADDRESSES) return false;
    if (this.addresses.has(host) || this.listed.has(`${service}/${proto}`)) return false;
    if (!ports.has(`${service.slice(i + 1)}/${proto}`)) return false;
    this.addresses.add(host);
    return true;
  }

  /** The NodePorts open at `host` ("10.3.0.1" or "[fd00:3::1]"): its family's. */
  private portsOf(host: string): NatCatalog['nodePorts'] | undefined {
    return host.startsWith('[') ? this.rules?.nodePorts6 : this.rules?.nodePorts;
  }

  /** The rules' services, and each NodePort at each learned address, by key. */
  services(): ServiceInfo[] {
    const c = this.rules;
    if (!c) return [];
    if (this.addresses.size === 0) return c.services;
    const out = [...c.services];
    for (const host of this.addresses) {
      for (const [key, np] of this.portsOf(host) ?? []) {
        const [port, proto] = key.split('/');
        out.push({
          service: `${host}:${port}/${proto}`,
          name: np.name,
          affinity: { ...np.affinity },
          endpoints: [...np.endpoints],
          ...(np.noEndpoints ? { noEndpoints: np.noEndpoints } : {}),
        });
      }
    }
    return out.sort(byKey);
  }
}
