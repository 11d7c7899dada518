// The report's JSON shape is a contract (docs/design.md): every field name and type, and the
// Markdown rendering of the same figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { renderMarkdown } from '../../src/report/render-markdown.js';

const T0 = Date.UTC(2026, 10, 23, 12, 11, 5) * 1000 + 123456;
const events: StickyEvent[] = [
  {
    type: 'catalog',
    ts: T0,
    node: 'lab-node',
    services: [
      {
        service: '10.96.0.10:80/tcp',
        name: 'lab/web:http',
        affinity: { mode: 'ClientIP', timeoutSeconds: 30, source: 'k8s' },
        endpoints: ['10.1.1.2:8080', '10.1.1.3:8080'],
      },
    ],
  },
  {
    type: 'dnat',
    ts: T0 + 1,
    node: 'lab-node',
    proto: 'tcp',
    client: '10.0.1.2:39402',
    service: '10.96.0.10:80',
    backend: '10.1.1.2:8080',
    hook: 'prerouting',
    ctId: 'a',
  },
  {
    type: 'dnat',
    ts: T0 + 2,
    node: 'lab-node',
    proto: 'tcp',
    client: '10.0.1.2:39404',
    service: '10.96.0.10:80',
    backend: '10.1.1.2:8080',
    hook: 'prerouting',
    ctId: 'b',
  },
  { type: 'lost', ts: T0 + 3, node: 'lab-node', count: 2 },
];

test('report JSON has the contract fields with the contract types', () => {
  const state = createState();
  applyEvents(state, events);
  const r = JSON.parse(JSON.stringify(buildReport(state, { scope: 'window' })));
  assert.deepEqual(Object.keys(r).slice(0, 4), ['window', 'nodes', 'lostEvents', 'services']);
  assert.equal(
    r.window.start,
    '2026-11-23T12:11:05.123457Z',
    'the span starts at the first selection, not the catalog',
  );
  assert.equal(r.window.end, '2026-11-23T12:11:05.123459Z');
  assert.deepEqual(r.nodes, ['lab-node']);
  assert.equal(r.lostEvents, 2);
  const s = r.services[0];
  assert.deepEqual(Object.keys(s).slice(0, 9), [
    'service',
    'name',
    'affinity',
    'selections',
    'backends',
    'spread',
    'spreadVerdict',
    'stickiness',
    'affinityVerdicts',
  ]);
  assert.ok('clients' in s);
  assert.equal(s.service, '10.96.0.10:80/tcp');
  assert.equal(s.name, 'lab/web:http');
  assert.deepEqual(s.affinity, { mode: 'ClientIP', timeoutSeconds: 30, source: 'k8s' });
  assert.deepEqual(s.backends, [
    { backend: '10.1.1.2:8080', selections: 2, share: 1, clients: 1 },
    { backend: '10.1.1.3:8080', selections: 0, share: 0, clients: 0 },
  ]);
  assert.deepEqual(Object.keys(s.spread), ['maxOverMean', 'cv', 'jain', 'chi2P']);
  assert.equal(s.spread.maxOverMean, 2);
  assert.equal(s.spread.jain, 0.5);
  // chi2 = 2 on 1 dof: p = erfc(1) = 0.157299...
  assert.ok(Math.abs(s.spread.chi2P - 0.1572992) < 1e-6);
  assert.deepEqual(s.stickiness, { pairs: 1, sameBackend: 1, ratio: 1, expectedRandom: 0.5 });
  assert.deepEqual(s.affinityVerdicts, {
    held: 1,
    violation: 0,
    forcedRepick: 0,
    expired: 0,
    compliance: 1,
    violationCauses: { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 0 },
    pending: 0,
    expiredMoved: 0,
  });
  assert.deepEqual(s.clients, [
    {
      client: '10.0.1.2',
      selections: 2,
      backends: { '10.1.1.2:8080': 2 },
      stickiness: 1,
      violations: 0,
      nodes: ['lab-node'],
    },
  ]);
  assert.equal(s.udpContinuity, undefined, 'TCP services carry no UDP continuity');
});

test('Markdown shows the same figures as tables', () => {
  const state = createState();
  applyEvents(state, events);
  const md = renderMarkdown(buildReport(state, { scope: 'cumulative' }));
  assert.match(md, /^# stickyscope report/);
  assert.match(md, /## 10\.96\.0\.10:80\/tcp \(lab\/web:http\)/);
  assert.match(md, /\| 10\.1\.1\.2:8080 \| 2 \| 100\.0% \| 1 \|/);
  assert.match(md, /\| 10\.1\.1\.3:8080 \| 0 \| 0\.0% \| 0 \|/);
  assert.match(md, /\| 1 \| 0 \| 0 \| 0 \| 0 \| 0 \| 0 \| 0 \| 0 \(0\) \| 1 \|/, 'verdict row: held 1, compliance 1');
  assert.match(md, /Lost events: 2/);
  assert.match(md, /\| 10\.0\.1\.2 \| 2 \| 10\.1\.1\.2:8080: 2 \| 1 \| lab-node \|/);
  const many = renderMarkdown(buildReport(state, { scope: 'cumulative' }), { maxClients: 0 });
  assert.match(many, /\(1 more clients in the JSON report\)/);
});
