// What the API's EndpointSlices say of the lab's endpoints beyond address and node: each pod's zone (its node's
// topology.kubernetes.io/zone) and, for a Service with spec.trafficDistribution, the hints Kubernetes 1.35's
// EndpointSlice controller writes (staging/src/k8s.io/endpointslice/trafficdist): each ready endpoint hinted for its
// own zone (PreferSameZone, and PreferClose, its older name), and for its own node as well (PreferSameNode); an
// endpoint without a zone gets no zone hint, a not-ready one no hint at all. Hints a config gives are kept as given.
import type { LabConfig, LabEndpoint, LabServiceSpec } from './config.js';

export const trafficDistributions = ['PreferClose', 'PreferSameZone', 'PreferSameNode'] as const;

export function sliceEndpoints(c: Pick<LabConfig, 'zones'>, s: LabServiceSpec): LabEndpoint[] {
  return s.endpoints.map((e) => {
    const zone = e.zone ?? c.zones?.[e.node];
    const out: LabEndpoint = zone !== undefined ? { ...e, zone } : { ...e };
    if (e.hints !== undefined || s.trafficDistribution === undefined || e.ready === false) return out;
    const zones = zone !== undefined ? [zone] : [];
    const nodes = s.trafficDistribution === 'PreferSameNode' ? [e.node] : [];
    if (zones.length + nodes.length > 0)
      out.hints = { ...(zones.length ? { zones } : {}), ...(nodes.length ? { nodes } : {}) };
    return out;
  });
}
