// Which catalog entries are the two families of one Service: a dual-stack Service port has an IPv4 and an IPv6
// address, which the rules (iptables and ip6tables, `ip` and `ip6 kube-proxy`) and the API name alike.
import type { ServiceInfo } from '../core/event.js';

const isV6 = (key: string) => key.startsWith('[');
const portProto = (key: string) => key.slice(key.lastIndexOf(']') + 1).replace(/^[^:]*/, '');

/**
 * The entries grouped: pairs of one IPv4 and one IPv6 entry with the same name, port and protocol, and every other
 * entry on its own, IPv4 first in each pair. Where a name has several addresses in one family for the same port
 * (a load-balancer or external IP beside the cluster IP, a NodePort at several node addresses), which IPv4 address
 * goes with which IPv6 one is not said anywhere: those stay one entry per address.
 */
export function dualStackGroups(infos: readonly ServiceInfo[]): ServiceInfo[][] {
  const byName = new Map<string, ServiceInfo[]>();
  const out: ServiceInfo[][] = [];
  for (const info of infos) {
    if (info.name === null) {
      out.push([info]);
      continue;
    }
    const key = `${info.name}\n${portProto(info.service)}`;
    const same = byName.get(key);
    if (same) same.push(info);
    else byName.set(key, [info]);
  }
  for (const same of byName.values()) {
    const v4 = same.filter((i) => !isV6(i.service));
    const v6 = same.filter((i) => isV6(i.service));
    if (v4.length === 1 && v6.length === 1) out.push([v4[0]!, v6[0]!]);
    else for (const i of same) out.push([i]);
  }
  return out;
}
