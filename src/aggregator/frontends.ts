// Which catalog entries are frontends of one Service port: its cluster IPs (a dual-stack Service has one per
// family), NodePorts at the node's addresses, external and load-balancer IPs. kube-proxy keeps one affinity per
// Service port whichever address a client used (a NodePort and a load-balancer IP lead through KUBE-EXT to the same
// KUBE-SVC chain and its endpoints' lists), and the rules and the API name every frontend by the same
// `namespace/name:port`, so entries of one name and protocol are one Service.
import type { ServiceInfo } from '../core/event.js';

const protoOf = (key: string) => key.slice(key.lastIndexOf('/') + 1);
const isV6 = (key: string) => key.startsWith('[');

/**
 * The entries grouped: every entry of one name and protocol together, IPv4 addresses first (the first seen names the
 * Service), each entry without a name on its own.
 */
export function frontendGroups(infos: readonly ServiceInfo[]): ServiceInfo[][] {
  const byName = new Map<string, ServiceInfo[]>();
  const out: ServiceInfo[][] = [];
  for (const info of infos) {
    if (info.name === null) {
      out.push([info]);
      continue;
    }
    const key = `${info.name}\n${protoOf(info.service)}`;
    const same = byName.get(key);
    if (same) same.push(info);
    else byName.set(key, [info]);
  }
  for (const same of byName.values())
    out.push([...same.filter((i) => !isV6(i.service)), ...same.filter((i) => isV6(i.service))]);
  return out;
}
