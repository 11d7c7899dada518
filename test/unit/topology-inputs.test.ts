// The topology figures under issue 29's bad inputs: 5,000 endpoints across 20 zones, hints naming zones no node has,
// nodes without zone labels, and a Service whose traffic policy changes while traffic runs. Each gives figures or one
// clear line; expectations are worked out here from docs/design.md's rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_NODE, type CatalogEvent, type EndpointPlace, type StickyEvent } from '../../src/core/event.js';
import { ServeHub } from '../../src/serve/hub.js';
import { findingsOf } from '../../src/report/findings.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 11, 8, 2, 0, 0) * 1000;
const ZONES = Array.from({ length: 20 }, (_, i) => `zone-${i}`);
const addr = (i: number) => `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}:8080`;

function catalog(
  ts: number,
  endpoints: EndpointPlace[],
  nodes: CatalogEvent['nodes'],
  policy: 'Cluster' | 'Local' = 'Cluster',
): CatalogEvent {
  return {
    type: 'catalog',
    ts,
    node: CLUSTER_NODE,
    services: [
      {
        service: '10.96.0.10:80/tcp',
        name: 'big/web:http',
        affinity: { mode: 'None', timeoutSeconds: null, source: 'k8s' },
        endpoints: endpoints.map((e) => e.endpoint),
        topology: { policy, distribution: 'PreferSameZone', endpoints },
      },
    ],
    ...(nodes ? { nodes } : {}),
  };
}

const picks = (node: string, backends: string[], from: number): StickyEvent[] =>
  backends.map((backend, i) =>
    dnatEvent({ ts: T0 + from + i, node, client: `10.0.${i >> 8}.${i & 255}:4000`, service: '10.96.0.10:80', backend }),
  );

test("5,000 endpoints in 20 zones: each node uses its zone's 250; one endpoint without a hint turns them all back", () => {
  const eps: EndpointPlace[] = Array.from({ length: 5000 }, (_, i) => ({
    endpoint: addr(i),
    node: `n${i % 100}`,
    zone: ZONES[i % 20]!,
    zoneHints: [ZONES[i % 20]!],
    ready: true,
    serving: true,
    terminating: false,
  }));
  const nodes = Array.from({ length: 100 }, (_, i) => ({ name: `n${i}`, zone: ZONES[i % 20]! }));
  const hub = new ServeHub({ windows: [60] });
  // n3 (zone-3) picks endpoints 3 and 23 (zone-3) and 4 (zone-4).
  hub.apply([catalog(T0, eps, nodes), ...picks('n3', [addr(3), addr(23), addr(4)], 1e6)]);
  let t = hub.report('all').services[0]!.topology!;
  const n3 = t.nodes.find((n) => n.node === 'n3')!;
  assert.deepEqual([n3.expected.mode, n3.expected.count, n3.expected.endpoints.length], ['PreferSameZone', 250, 250]);
  // Endpoint i is in zone i % 20: n3's are 3, 23, 43, ...
  assert.deepEqual(n3.expected.endpoints.slice(0, 3), [addr(3), addr(23), addr(43)]);
  assert.deepEqual([n3.sameZone, n3.crossZone, n3.sameNode], [2, 1, 1]);
  assert.equal(n3.fallback, undefined);

  const { zoneHints: _, ...unhinted } = eps[4321]!;
  eps[4321] = unhinted;
  hub.apply([catalog(T0 + 2e6, eps, nodes)]);
  t = hub.report('all').services[0]!.topology!;
  const again = t.nodes.find((n) => n.node === 'n3')!;
  assert.deepEqual([again.expected.mode, again.expected.count, again.expected.endpoints], ['all', 5000, []]);
  assert.equal(again.fallback, `same-zone hints ignored: endpoint ${addr(4321)} has no zone hint`);
});

test('hints naming zones no node has, and nodes without a zone label: every endpoint, said once', () => {
  const eps = [0, 1].map((i) => ({
    endpoint: addr(i),
    node: `n${i}`,
    zoneHints: ['mars'],
    ready: true,
    serving: true,
    terminating: false,
  }));
  const hub = new ServeHub({ windows: [60] });
  hub.apply([catalog(T0, eps, [{ name: 'n0', zone: 'a' }, { name: 'n1' }]), ...picks('n0', [addr(0), addr(1)], 1e6)]);
  hub.apply(picks('n1', [addr(0)], 2e6));
  const report = hub.report('all');
  const t = report.services[0]!.topology!;
  const [n0, n1] = t.nodes;
  assert.deepEqual(
    [n0!.expected.mode, n0!.fallback],
    ['all', 'same-zone hints ignored: no endpoint is hinted for zone a'],
  );
  assert.deepEqual(
    [n1!.zone, n1!.expected.mode, n1!.fallback],
    [null, 'all', 'same-zone hints ignored: the node has no topology.kubernetes.io/zone label'],
  );
  // A backend without a zone of its own is in its node's: n0's pick of addr(0) is in zone a; its pick of addr(1) (on
  // unlabelled n1) and n1's pick are in no known zone, counted as such, not guessed.
  assert.deepEqual([t.sameZone, t.unknownZone], [1, 2]);
  const zoneless = findingsOf(report).filter((f) => f.kind === 'nodesWithoutZone');
  assert.equal(zoneless.length, 1);
  assert.match(zoneless[0]!.text, /1 node\(s\) have no topology\.kubernetes\.io\/zone label \(n1\)/);
});

test('a policy that changes while traffic runs: the picks stay counted, what kube-proxy should do is the latest', () => {
  const eps = [0, 1].map((i) => ({
    endpoint: addr(i),
    node: `n${i}`,
    zone: i === 0 ? 'a' : 'b',
    zoneHints: [i === 0 ? 'a' : 'b'],
    ready: true,
    serving: true,
    terminating: false,
  }));
  const nodes = [
    { name: 'n0', zone: 'a' },
    { name: 'n1', zone: 'b' },
  ];
  const hub = new ServeHub({ windows: [60] });
  hub.apply([catalog(T0, eps, nodes), ...picks('n0', [addr(0), addr(0)], 1e6)]);
  hub.apply([catalog(T0 + 2e6, eps, nodes, 'Local'), ...picks('n0', [addr(0)], 3e6)]);
  const t = hub.report('all').services[0]!.topology!;
  const n0 = t.nodes.find((n) => n.node === 'n0')!;
  assert.equal(t.policy, 'Local');
  assert.deepEqual([n0.selections, n0.sameZone, n0.expected.mode, n0.expected.endpoints], [3, 3, 'local', [addr(0)]]);
});
