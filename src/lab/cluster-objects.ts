// The lab's objects as a cluster's API holds them: its Services (traffic policies, trafficDistribution), their
// EndpointSlices, one per family, with the zones, hints and conditions the lab's EndpointSlice controller gives
// (endpoint-slices.ts), and its Nodes with their topology.kubernetes.io/zone. Nodes are named as the agents name them:
// the lab's node namespaces.
import type { ApiServer } from './api-server.js';
import { nodeName, type LabConfig } from './config.js';
import { sliceEndpoints } from './endpoint-slices.js';

/** An object applied: its resource, namespace ('' for Nodes) and name. */
export type ObjectKey = [resource: Parameters<ApiServer['apply']>[0], namespace: string, name: string];

/** Creates or replaces every object of the lab on `api`; returns what it applied. */
export function applyLabObjects(
  api: Pick<ApiServer, 'apply'>,
  lab: { config: LabConfig; nodes: string[] },
): ObjectKey[] {
  const applied: ObjectKey[] = [];
  const apply = (...args: Parameters<ApiServer['apply']>) => {
    const [resource, obj] = args;
    applied.push([resource, obj.metadata.namespace ?? '', obj.metadata.name]);
    api.apply(...args);
  };
  const byService = new Map<string, LabConfig['services']>();
  for (const s of lab.config.services) {
    const key = `${s.namespace}/${s.name}`;
    byService.set(key, [...(byService.get(key) ?? []), s]);
  }
  /** The API names nodes as the agents do: the lab's node namespaces. */
  const fullName = (short: string) => lab.nodes[lab.nodes.findIndex((_, i) => nodeName(i) === short)] ?? short;
  for (const ports of byService.values()) {
    const s = ports[0]!;
    apply('services', {
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
          ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: s.timeoutSeconds ?? 10800 } } }
          : {}),
        ports: ports.map((p) => ({
          ...(p.portName ? { name: p.portName } : {}),
          port: p.port,
          protocol: p.protocol.toUpperCase(),
          targetPort: p.endpoints[0]?.port ?? p.port,
          ...(p.nodePort ? { nodePort: p.nodePort } : {}),
        })),
      },
    });
    const endpoints = [...new Map(ports.flatMap((p) => sliceEndpoints(lab.config, p)).map((e) => [e.ip, e])).values()];
    // One slice per family, as the EndpointSlice controller writes them.
    for (const family of ['IPv4', 'IPv6'] as const) {
      const ofFamily = endpoints.filter((e) => e.ip.includes(':') === (family === 'IPv6'));
      if (ofFamily.length === 0) continue;
      apply('endpointslices', {
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
      });
    }
  }
  lab.nodes.forEach((name, i) => {
    const zone = lab.config.zones?.[nodeName(i)];
    apply('nodes', {
      metadata: {
        name,
        labels: { 'kubernetes.io/hostname': name, ...(zone ? { 'topology.kubernetes.io/zone': zone } : {}) },
      },
    });
  });
  return applied;
}
