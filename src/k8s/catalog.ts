// Services and EndpointSlices as the API holds them, turned into the ServiceInfo list of a catalog event: one entry per
// address:port/proto that kube-proxy translates. The API client does not check field types, so every field is read
// through a check here: one of the wrong type counts as absent, it never throws.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS, type EndpointPlace, type Proto, type ServiceInfo } from '../core/event.js';

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
      for (const { ip, external } of frontendIps(svc, spec)) {
        const family = ip.includes(':') ? 'IPv6' : 'IPv4';
        const { endpoints, pods, places } = endpointsOf(svcSlices, svcPort, family, ns);
        const info: ServiceInfo = {
          service: `${joinHostPort(ip, number)}/${proto}`,
          name: portName ? `${ns}/${name}:${portName}` : `${ns}/${name}`,
          affinity,
          endpoints,
        };
        if (Object.keys(pods).length > 0) info.pods = pods;
        const policy = external ? spec.externalTrafficPolicy : spec.internalTrafficPolicy;
        const distribution = str(spec.trafficDistribution);
        info.topology = { policy: policy === 'Local' ? 'Local' : 'Cluster', endpoints: places };
        if (distribution) info.topology.distribution = distribution;
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
function frontendIps(svc: Obj, spec: Obj): { ip: string; external: boolean }[] {
  const clusterIPs = list(spec.clusterIPs);
  const cluster = clusterIPs.length > 0 ? clusterIPs : [spec.clusterIP];
  const external = [
    ...list(spec.externalIPs),
    ...list(obj(obj(svc.status).loadBalancer).ingress).map((i) => obj(i).ip),
  ];
  const out = new Map<string, boolean>();
  for (const [ips, ext] of [
    [cluster, false],
    [external, true],
  ] as const)
    for (const ip of ips) if (typeof ip === 'string' && ip !== '' && ip !== 'None' && !out.has(ip)) out.set(ip, ext);
  return [...out].map(([ip, ext]) => ({ ip, external: ext }));
}

/**
 * Ready endpoints (a missing ready condition means ready, as the API defines it), and every endpoint's place (node,
 * zone, hints, conditions) for the topology checks.
 */
function endpointsOf(slices: Obj[], svcPort: Obj, family: 'IPv4' | 'IPv6', ns: string) {
  const endpoints = new Set<string>();
  const pods: Record<string, string> = {};
  const places = new Map<string, EndpointPlace>();
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
      // kube-proxy uses the first address only; the others are the same pod's.
      const ip = str(list(ep.addresses)[0]);
      if (!ip) continue;
      const addr = joinHostPort(ip, number);
      if (!places.has(addr)) places.set(addr, placeOf(ep, addr));
      if (obj(ep.conditions).ready === false) continue;
      endpoints.add(addr);
      const ref = obj(ep.targetRef);
      const podName = str(ref.name);
      if (ref.kind === 'Pod' && podName) pods[addr] = `${str(ref.namespace) ?? ns}/${podName}`;
    }
  }
  return { endpoints: [...endpoints].sort(), pods, places: [...places.values()] };
}

function placeOf(ep: Obj, endpoint: string): EndpointPlace {
  const c = obj(ep.conditions);
  const hints = obj(ep.hints);
  const hinted = (v: unknown) => list(v).flatMap((h) => str(obj(h).name) ?? []);
  const place: EndpointPlace = {
    endpoint,
    ready: c.ready !== false,
    serving: c.serving === true || (c.serving === undefined && c.ready !== false),
    terminating: c.terminating === true,
  };
  const node = str(ep.nodeName);
  const zone = str(ep.zone);
  if (node) place.node = node;
  if (zone) place.zone = zone;
  const zoneHints = hinted(hints.forZones);
  const nodeHints = hinted(hints.forNodes);
  if (zoneHints.length) place.zoneHints = zoneHints;
  if (nodeHints.length) place.nodeHints = nodeHints;
  return place;
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
