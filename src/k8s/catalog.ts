// Services and EndpointSlices as the API holds them, turned into the ServiceInfo list of a catalog event: one entry per
// address:port/proto that kube-proxy translates. The API client does not check field types, so every field is read
// through a check here: one of the wrong type counts as absent, it never throws.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS, type Proto, type ServiceInfo } from '../core/event.js';

/** kube-proxy's default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const port = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535 ? v : undefined;

export function buildCatalog(services: readonly V1Service[], slices: readonly V1EndpointSlice[]): ServiceInfo[] {
  const slicesByService = new Map<string, Obj[]>();
  for (const s of list(slices)) {
    const slice = obj(s);
    const meta = obj(slice.metadata);
    const owner = str(obj(meta.labels)[SERVICE_NAME_LABEL]);
    if (!owner) continue;
    const key = `${str(meta.namespace) ?? ''}/${owner}`;
    const forService = slicesByService.get(key) ?? [];
    forService.push(slice);
    slicesByService.set(key, forService);
  }
  const out: ServiceInfo[] = [];
  for (const s of list(services)) {
    const svc = obj(s);
    const meta = obj(svc.metadata);
    const ns = str(meta.namespace) ?? '';
    const name = str(meta.name) ?? '';
    const spec = obj(svc.spec);
    if (svc.spec === undefined || spec.type === 'ExternalName') continue;
    const timeout = obj(obj(spec.sessionAffinityConfig).clientIP).timeoutSeconds;
    const affinity: ServiceInfo['affinity'] =
      spec.sessionAffinity === 'ClientIP'
        ? {
            mode: 'ClientIP',
            timeoutSeconds:
              typeof timeout === 'number' && Number.isInteger(timeout) && timeout > 0
                ? timeout
                : DEFAULT_AFFINITY_TIMEOUT_SECONDS,
            source: 'k8s',
          }
        : { mode: 'None', timeoutSeconds: null, source: 'k8s' };
    const svcSlices = slicesByService.get(`${ns}/${name}`) ?? [];
    for (const p of list(spec.ports)) {
      const svcPort = obj(p);
      const proto = protoOf(svcPort.protocol);
      const number = port(svcPort.port);
      if (!proto || number === undefined) continue;
      const portName = str(svcPort.name);
      for (const ip of frontendIps(svc, spec)) {
        const { endpoints, pods } = endpointsOf(svcSlices, svcPort, ip.includes(':') ? 'IPv6' : 'IPv4', ns);
        const info: ServiceInfo = {
          service: `${joinHostPort(ip, number)}/${proto}`,
          name: portName ? `${ns}/${name}:${portName}` : `${ns}/${name}`,
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
function frontendIps(svc: Obj, spec: Obj): string[] {
  const clusterIPs = list(spec.clusterIPs);
  const cluster = clusterIPs.length > 0 ? clusterIPs : [spec.clusterIP];
  const ips = [
    ...cluster,
    ...list(spec.externalIPs),
    ...list(obj(obj(svc.status).loadBalancer).ingress).map((i) => obj(i).ip),
  ].filter((ip): ip is string => typeof ip === 'string' && ip !== '' && ip !== 'None');
  return [...new Set(ips)];
}

/** Ready endpoints (a missing ready condition means ready, as the API defines it). */
function endpointsOf(slices: Obj[], svcPort: Obj, family: 'IPv4' | 'IPv6', ns: string) {
  const endpoints = new Set<string>();
  const pods: Record<string, string> = {};
  for (const slice of slices) {
    if (slice.addressType !== family) continue;
    const slicePort = list(slice.ports)
      .map(obj)
      .find(
        (p) =>
          (str(p.name) ?? '') === (str(svcPort.name) ?? '') &&
          (str(p.protocol) ?? 'TCP') === (str(svcPort.protocol) ?? 'TCP'),
      );
    const number = port(slicePort?.port);
    if (number === undefined) continue;
    for (const e of list(slice.endpoints)) {
      const ep = obj(e);
      if (obj(ep.conditions).ready === false) continue;
      // kube-proxy uses the first address only; the others are the same pod's.
      const ip = str(list(ep.addresses)[0]);
      if (!ip) continue;
      const addr = joinHostPort(ip, number);
      endpoints.add(addr);
      const ref = obj(ep.targetRef);
      const podName = str(ref.name);
      if (ref.kind === 'Pod' && podName) pods[addr] = `${str(ref.namespace) ?? ns}/${podName}`;
    }
  }
  return { endpoints: [...endpoints].sort(), pods };
}

function protoOf(protocol: unknown): Proto | null {
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
