// The lab's objects as a cluster's API holds them: its Services (traffic policies, trafficDistribution), their
// EndpointSlices, one per family, with the zones, hints and conditions the lab's EndpointSlice controller gives
// (endpoint-slices.ts), and its Nodes with their topology.kubernetes.io/zone. Nodes are named as the agents name them:
// the lab's node namespaces.
import type { ApiServer } from './api-server.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from '../core/event.js';
import { nodeName, type LabConfig } from './config.js';
import { sliceEndpoints } from './endpoint-slices.js';

type Resource = Parameters<ApiServer['apply']>[0];
type ApiObject = Parameters<ApiServer['apply']>[1];
type Ports = LabConfig['services'];

/** An object applied: its resource, namespace ('' for Nodes) and name. */
export type ObjectKey = [resource: Resource, namespace: string, name: string];

/** Creates or replaces every object of the lab on `api`; returns what it applied. */
export function applyLabObjects(
  api: Pick<ApiServer, 'apply'>,
  lab: { config: LabConfig; nodes: string[] },
): ObjectKey[] {
  const byService = new Map<string, Ports>();
  for (const s of lab.config.services) {
    const key = `${s.namespace}/${s.name}`;
    byService.set(key, [...(byService.get(key) ?? []), s]);
  }
  /** The API names nodes as the agents do: the lab's node namespaces. */
  const fullName = (short: string) => lab.nodes[lab.nodes.findIndex((_, i) => nodeName(i) === short)] ?? short;
  const objects: [Resource, ApiObject][] = [
    ...[...byService.values()].flatMap((ports): [Resource, ApiObject][] => [
      ['services', serviceObject(ports)],
      ...sliceObjects(lab.config, ports, fullName).map((o): [Resource, ApiObject] => ['endpointslices', o]),
    ]),
    ...lab.nodes.map((name, i): [Resource, ApiObject] => ['nodes', nodeObject(name, lab.config.zones?.[nodeName(i)])]),
  ];
  for (const [resource, obj] of objects) api.apply(resource, obj);
  return objects.map(([resource, obj]) => [resource, obj.metadata.namespace ?? '', obj.metadata.name]);
}

/** A Service of one or more ports (the lab's entries of one namespace/name). */
function serviceObject(ports: Ports): ApiObject {
  const s = ports[0]!;
  return {
    metadata: { namespace: s.namespace, name: s.name },
    spec: {
      type: s.nodePort ? 'NodePort' : 'ClusterIP',
      clusterIP: s.clusterIP,
      clusterIPs: s.clusterIPs ?? [s.clusterIP],
      sessionAffinity: s.sessionAffinity,
      ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
      ...(s.externalTrafficPolicy ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
      ...(s.trafficDistribution ? { trafficDistribution: s.trafficDistribution } : {}),
      ...(s.sessionAffinity === 'ClientIP'
        ? {
            sessionAffinityConfig: {
              clientIP: { timeoutSeconds: s.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS },
            },
          }
        : {}),
      ports: ports.map((p) => ({
        ...(p.portName ? { name: p.portName } : {}),
        port: p.port,
        protocol: p.protocol.toUpperCase(),
        targetPort: p.endpoints[0]?.port ?? p.port,
        ...(p.nodePort ? { nodePort: p.nodePort } : {}),
      })),
    },
  };
}

/** The Service's EndpointSlices: one per family, as the EndpointSlice controller writes them. */
function sliceObjects(config: LabConfig, ports: Ports, fullName: (short: string) => string): ApiObject[] {
  const s = ports[0]!;
  const endpoints = [...new Map(ports.flatMap((p) => sliceEndpoints(config, p)).map((e) => [e.ip, e])).values()];
  return (['IPv4', 'IPv6'] as const).flatMap((family) => {
    const ofFamily = endpoints.filter((e) => e.ip.includes(':') === (family === 'IPv6'));
    if (ofFamily.length === 0) return [];
    return [
      {
        metadata: {
          namespace: s.namespace,
          name: `${s.name}-lab-${family.toLowerCase()}`,
          labels: { 'kubernetes.io/service-name': s.name },
        },
        addressType: family,
        ports: ports.map((p) => ({
          ...(p.portName ? { name: p.portName } : {}),
          port: p.endpoints[0]?.port ?? p.port,
          protocol: p.protocol.toUpperCase(),
        })),
        endpoints: ofFamily.map((e) => ({
          addresses: [e.ip],
          conditions: {
            ready: e.ready !== false,
            serving: e.serving ?? e.ready !== false,
            terminating: e.terminating ?? false,
          },
          nodeName: fullName(e.node),
          ...(e.zone ? { zone: e.zone } : {}),
          ...(e.hints
            ? {
                hints: {
                  ...(e.hints.zones?.length ? { forZones: e.hints.zones.map((name) => ({ name })) } : {}),
                  ...(e.hints.nodes?.length ? { forNodes: e.hints.nodes.map((n) => ({ name: fullName(n) })) } : {}),
                },
              }
            : {}),
          targetRef: { kind: 'Pod', namespace: s.namespace, name: e.pod },
        })),
      },
    ];
  });
}

function nodeObject(name: string, zone: string | undefined): ApiObject {
  return {
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, ...(zone ? { 'topology.kubernetes.io/zone': zone } : {}) },
    },
  };
}
