// serve's topology series (docs/serve.md) and the report's `topology` from the same events: picks counted by hand here
// from where each backend is (the API's EndpointSlices) and each node's zone (its Node's label).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentBook } from '../../src/serve/agent-book.js';
import { ServeHub } from '../../src/serve/hub.js';
import { createServeMetrics } from '../../src/serve/metrics.js';
import { renderHtml } from '../../src/report/html.js';
import { A, B, C, topologyEvents as events } from '../helpers/topology-events.js';

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
  // n1's 3 picks over [A], n2's 2 over [B, C]: A 3, B 1, C 1 expected; A 2, B 2, C 1 picked.
  assert.deepEqual(
    t.backends.map((b) => [b.backend, b.zone, b.selections, b.expectedSelections]),
    [
      [A, 'a', 2, 3],
      [B, 'b', 2, 1],
      [C, 'b', 1, 1],
    ],
  );
  // The HTML report shows the same tables (node, zone, what kube-proxy should use; backend, picks, expected).
  const html = renderHtml(report, hub.timeline);
  assert.match(html, /data-table="topology-nodes"/);
  assert.match(html, /<td class="mono">n1<\/td><td>a<\/td><td class="num">3<\/td>/);
  assert.match(html, /<td class="mono">PreferSameZone: 10\.1\.1\.2:8080<\/td>/);
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
