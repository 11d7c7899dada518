// The API's topology facts on the wire: a Service address's traffic policy and where its endpoints are, and the
// cluster's nodes with their zones (CatalogEvent.nodes, ServiceInfo.topology). Absent fields stay absent.
import type { EndpointPlace, NodePlace, ServiceTopology } from '../core/event.js';
import type { stickyscope } from './generated/stickyscope.js';

type WireTopology = stickyscope.v1.ServiceTopology.$Properties;
type WirePlace = stickyscope.v1.EndpointPlace.$Properties;
type WireNode = stickyscope.v1.NodePlace.$Properties;

export function topologyToWire(t: ServiceTopology): WireTopology {
  return {
    local: t.policy === 'Local',
    distribution: t.distribution ?? '',
    endpoints: t.endpoints.map(
      (e): WirePlace => ({
        endpoint: e.endpoint,
        node: e.node ?? '',
        zone: e.zone ?? '',
        zoneHints: e.zoneHints ?? [],
        nodeHints: e.nodeHints ?? [],
        notReady: !e.ready,
        serving: e.serving,
        terminating: e.terminating,
      }),
    ),
  };
}

export function topologyFromWire(w: WireTopology): ServiceTopology {
  const t: ServiceTopology = {
    policy: w.local ? 'Local' : 'Cluster',
    endpoints: (w.endpoints ?? []).map((e) => {
      const out: EndpointPlace = {
        endpoint: e.endpoint ?? '',
        ready: !e.notReady,
        serving: e.serving === true,
        terminating: e.terminating === true,
      };
      if (e.node) out.node = e.node;
      if (e.zone) out.zone = e.zone;
      if (e.zoneHints?.length) out.zoneHints = [...e.zoneHints];
      if (e.nodeHints?.length) out.nodeHints = [...e.nodeHints];
      return out;
    }),
  };
  if (w.distribution) t.distribution = w.distribution;
  return t;
}

export const nodesToWire = (nodes: NodePlace[]): WireNode[] => nodes.map((n) => ({ name: n.name, zone: n.zone ?? '' }));

export const nodesFromWire = (nodes: WireNode[]): NodePlace[] =>
  nodes.map((n) => (n.zone ? { name: n.name ?? '', zone: n.zone } : { name: n.name ?? '' }));
