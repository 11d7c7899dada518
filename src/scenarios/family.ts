// A scenario over one IP family: its IPv4 lab made dual-stack with every Service IPv6-only (the twins of its IPv4
// addresses and endpoints), and the addresses of that family its traffic and answers use.
import { defaultClusterCIDR6, type IpFamily, type LabConfig } from '../lab/config.js';
import { familyOf, joinHostPort, v6Twin } from '../lab/ip-family.js';
import type { Lab, LabBackend, LabClient } from '../lab/lab.js';

/**
 * The lab a scenario runs in over `family`. IPv6: a dual-stack lab (every pod and node has both addresses, as in a
 * dual-stack cluster) whose Services are IPv6 only (spec.ipFamilies [IPv6]), so all of the traffic, each Service's
 * rules and the report's rows are IPv6 and the answers read as over IPv4.
 */
export function overFamily(c: LabConfig, family: IpFamily): LabConfig {
  if (family === 'IPv4') return c;
  return {
    ...c,
    ipFamilies: ['IPv4', 'IPv6'],
    clusterCIDR6: defaultClusterCIDR6,
    services: c.services.map(({ clusterIPs: _ips, ipFamilies: _families, ...s }) => ({
      ...s,
      clusterIP: v6Twin(s.clusterIP),
      endpoints: s.endpoints.map((e) => ({ ...e, ip: v6Twin(e.ip) })),
    })),
  };
}

/** The family a scenario's lab runs its traffic over: that of its Services. */
export function familyOfLab(lab: Pick<Lab, 'services'>): IpFamily {
  return familyOf(lab.services[0]?.clusterIP ?? '') ?? 'IPv4';
}

const v6 = (lab: Pick<Lab, 'services'>) => familyOfLab(lab) === 'IPv6';

/** The client's address in the scenario's family. */
export function clientIp(lab: Lab, c: LabClient): string {
  return v6(lab) ? c.ip6! : c.ip;
}

/** The client's extra source addresses in the scenario's family. */
export function clientSources(lab: Lab, c: LabClient): string[] {
  return v6(lab) ? c.sources6 : c.sources;
}

export function backendIp(lab: Lab, b: LabBackend): string {
  return v6(lab) ? b.ip6! : b.ip;
}

/** Node k's own address (where NodePorts answer) in the scenario's family. */
export function nodeIp(lab: Lab, k: number): string {
  return v6(lab) ? lab.nodeIP6(k)! : lab.nodeIP(k);
}

/** "http://10.96.0.10:80/path" or "http://[fd00:96::10]:80/path" (curl needs -g for the brackets). */
export function httpUrl(ip: string, port: number, path = '/'): string {
  return `http://${joinHostPort(ip, port)}${path}`;
}
