// serve's topology series (docs/serve.md) and the report's `topology` from the same events: picks counted by hand here
// from where each backend is (the API's EndpointSlices) and each node's zone (its Node's label).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_NODE, type CatalogEvent, type StickyEvent } from '../../src/core/event.js';
import { AgentBook } from '../../src/serve/agent-book.js';
import { ServeHub } from '../../src/serve/hub.js';
import { createServeMetrics } from '../../src/serve/metrics.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 11, 8, 1, 0, 0) * 1000;
const [A, B, C] = ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'];
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

function events(): StickyEvent[] {
  return [
    apiCatalog(),
    ...picks.map(([node, service, backend], i) =>
      dnatEvent({ ts: T0 + (i + 1) * 1e6, node, proto: 'tcp', client: `10.0.1.${i + 2}:4000`, service, backend }),
    ),
  ];
}

function sample(text: string, name: string, address: string, node: string): number | undefined {
  const re = new RegExp(
    `^${name}\\{service="[^"]+",address="${address.replace(/\./g, '\\.')}",node="${node}"\\} (\\S+)$`,
    'm',
  );
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

test('serve /metrics: same-zone and cross-zone picks per Service and node, and the nodes that fall back', async () => {
  const hub = new ServeHub({ windows: [60] });
  hub.apply(events());
  const text = await createServeMetrics(hub, new AgentBook(), 100).scrape();
  const web = '10.96.0.10:80/tcp';
  const api = '10.96.0.11:80/tcp';
  assert.equal(sample(text, 'stickyscope_service_same_zone_selections_total', web, 'n1'), 2);
  assert.equal(sample(text, 'stickyscope_service_cross_zone_selections_total', web, 'n1'), 1);
  assert.equal(sample(text, 'stickyscope_service_same_zone_selections_total', web, 'n2'), 2);
  assert.equal(sample(text, 'stickyscope_service_cross_zone_selections_total', web, 'n2'), 0);
  assert.equal(sample(text, 'stickyscope_service_cross_zone_selections_total', api, 'n1'), 1);
  assert.equal(sample(text, 'stickyscope_service_cross_zone_selections_total', api, 'n2'), 1);
  assert.equal(sample(text, 'stickyscope_service_topology_fallback', web, 'n1'), 0);
  assert.equal(sample(text, 'stickyscope_service_topology_fallback', api, 'n1'), 1);
  assert.equal(sample(text, 'stickyscope_service_topology_fallback', api, 'n2'), 1);

  const report = hub.report('all');
  const t = report.services.find((s) => s.service === web)!.topology!;
  assert.deepEqual([t.selections, t.sameNode, t.sameZone, t.crossZone, t.unknownZone], [5, 3, 4, 1, 0]);
  assert.equal(t.sameZoneShare, 4 / 5);
  assert.deepEqual(
    t.nodes.map((n) => [n.node, n.expected.mode, n.expected.endpoints]),
    [
      ['n1', 'PreferSameZone', [A]],
      ['n2', 'PreferSameZone', [B, C]],
    ],
  );
  const a = report.services.find((s) => s.service === api)!.topology!;
  assert.deepEqual(
    a.nodes.map((n) => [n.node, n.expected.mode, n.fallback]),
    [
      ['n1', 'all', `same-zone hints ignored: endpoint ${C} has no zone hint`],
      ['n2', 'all', `same-zone hints ignored: endpoint ${C} has no zone hint`],
    ],
  );
});

test('without the API catalog there is no topology: no series, no report field', async () => {
  const hub = new ServeHub({ windows: [60] });
  hub.apply(events().slice(1));
  const text = await createServeMetrics(hub, new AgentBook(), 100).scrape();
  assert.doesNotMatch(text, /stickyscope_service_same_zone_selections_total\{/);
  assert.equal(hub.report('all').services[0]!.topology, undefined);
});
