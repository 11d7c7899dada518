// Selections on two nodes in zones a and b of two PreferSameZone Services, with the API's catalog that places their
// backends (one Service has an endpoint without a hint, so its nodes fall back): shared by the topology tests, which
// count the picks by hand.
import { CLUSTER_NODE, type CatalogEvent, type StickyEvent } from '../../src/core/event.js';
import { dnatEvent } from './events.js';

const T0 = Date.UTC(2026, 11, 8, 1, 0, 0) * 1000;
export const [A, B, C] = ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'];
const place = (endpoint: string, node: string, zone: string, hinted: boolean) => ({
  endpoint,
  node,
  zone,
  ...(hinted ? { zoneHints: [zone] } : {}),
  ready: true,
  serving: true,
  terminating: false,
});
/** web: PreferSameZone, every endpoint hinted. api: PreferSameZone, C without a hint (every node falls back). */
function apiCatalog(): CatalogEvent {
  const svc = (ip: string, name: string, hintC: boolean) => ({
    service: `${ip}:80/tcp`,
    name,
    affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'k8s' as const },
    endpoints: [A, B, C],
    topology: {
      policy: 'Cluster' as const,
      distribution: 'PreferSameZone',
      endpoints: [place(A, 'n1', 'a', true), place(B, 'n2', 'b', true), place(C, 'n3', 'b', hintC)],
    },
  });
  return {
    type: 'catalog',
    ts: T0,
    node: CLUSTER_NODE,
    services: [svc('10.96.0.10', 'lab/web:http', true), svc('10.96.0.11', 'lab/api:http', false)],
    nodes: [
      { name: 'n1', zone: 'a' },
      { name: 'n2', zone: 'b' },
    ],
  };
}

const picks: [node: string, service: string, backend: string][] = [
  ['n1', '10.96.0.10:80', A],
  ['n1', '10.96.0.10:80', A],
  ['n1', '10.96.0.10:80', B], // cross: n1 is in a, B in b
  ['n2', '10.96.0.10:80', B],
  ['n2', '10.96.0.10:80', C], // same zone b, another node
  ['n2', '10.96.0.11:80', A], // cross
  ['n1', '10.96.0.11:80', C], // cross
];

export function topologyEvents(): StickyEvent[] {
  return [
    apiCatalog(),
    ...picks.map(([node, service, backend], i) =>
      dnatEvent({ ts: T0 + (i + 1) * 1e6, node, proto: 'tcp', client: `10.0.1.${i + 2}:4000`, service, backend }),
    ),
  ];
}
