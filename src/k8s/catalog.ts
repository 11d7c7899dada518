// Services and EndpointSlices as the API holds them, turned into the ServiceInfo list
// of a catalog event: one entry per address:port/proto that kube-proxy translates.
import type { V1EndpointSlice, V1Service, V1ServicePort, V1ServiceSpec } from '@kubernetes/client-node';
import type { Proto, ServiceInfo } from '../core/event.js';

/** kube-proxy's default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export function buildCatalog(services: readonly V1Service[], slices: readonly V1EndpointSlice[]): ServiceInfo[] {
  const slicesByService = new Map<string, V1EndpointSlice[]>();
  for (const slice of slices) {
    const owner = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!owner) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${owner}`;
    const list = slicesByService.get(key) ?? [];
    list.push(slice);
    slicesByService.set(key, list);
  }
  const out: ServiceInfo[] = [];
  for (const svc of services) {
    const ns = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    const spec = svc.spec;
    if (!spec || spec.type === 'ExternalName') continue;
    const affinity: ServiceInfo['affinity'] =
      spec.sessionAffinity === 'ClientIP'
        ? {
            mode: 'ClientIP',
            timeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS,
            source: 'k8s',
          }
        : { mode: 'None', timeoutSeconds: null, source: 'k8s' };
    const svcSlices = slicesByService.get(`${ns}/${name}`) ?? [];
    for (const port of spec.ports ?? []) {
      const proto = protoOf(port.protocol);
      if (!proto) continue;
      for (const ip of frontendIps(svc, spec)) {
        const { endpoints, pods } = endpointsOf(svcSlices, port, ip.includes(':') ? 'IPv6' : 'IPv4', ns);
        const info: ServiceInfo = {
          service: `${joinHostPort(ip, port.port)}/${proto}`,
          name: port.name ? `${ns}/${name}:${port.name}` : `${ns}/${name}`,
          affinity,
          endpoints,
        };
        if (Object.keys(pods).length > 0) info.pods = pods;
        out.push(info);
      }
    }
  }
  return out.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
}

/**
 * Every address kube-proxy DNATs for the Service with the same affinity rules: the
 * cluster IPs (both families), external IPs and load-balancer ingress IPs. NodePorts
 * are left out: their address is every node's, which would need the Node objects.
 */
function frontendIps(svc: V1Service, spec: V1ServiceSpec): string[] {
  const cluster = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  const ips = [
    ...cluster.filter((ip) => ip !== 'None' && ip !== ''),
    ...(spec.externalIPs ?? []),
    ...(svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== ''),
  ];
  return [...new Set(ips)];
}

/** Ready endpoints (a missing ready condition means ready, as the API defines it). */
function endpointsOf(slices: V1EndpointSlice[], port: V1ServicePort, family: 'IPv4' | 'IPv6', ns: string) {
  const endpoints = new Set<string>();
  const pods: Record<string, string> = {};
  for (const slice of slices) {
    if (slice.addressType !== family) continue;
    const slicePort = (slice.ports ?? []).find(
      (p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === (port.protocol ?? 'TCP'),
    );
    if (slicePort?.port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      // kube-proxy uses the first address only; the others are the same pod's.
      const ip = ep.addresses?.[0];
      if (!ip) continue;
      const addr = joinHostPort(ip, slicePort.port);
      endpoints.add(addr);
      const ref = ep.targetRef;
      if (ref?.kind === 'Pod' && ref.name) pods[addr] = `${ref.namespace ?? ns}/${ref.name}`;
    }
  }
  return { endpoints: [...endpoints].sort(), pods };
}

function protoOf(protocol: string | undefined): Proto | null {
  switch (protocol ?? 'TCP') {
    case 'TCP':
      return 'tcp';
    case 'UDP':
      return 'udp';
    case 'SCTP':
      return 'sctp';
    default:
      return null;
  }
}

export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
