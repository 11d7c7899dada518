// A Service the nodes' kube-proxy refuses (no endpoints) is marked as such in the report (JSON, Markdown, HTML) and in
// the TUI's row, with the mode and the nodes; a node whose catalog stops refusing it clears the mark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, ServiceInfo } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { renderMarkdown } from '../../src/report/render-markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { SelectionTimeline } from '../../src/report/html-timeline.js';
import { toViewModel } from '../../src/tui/from-aggregator.js';
import { backendBars } from '../../src/tui/services-view.js';

const T0 = Date.UTC(2026, 11, 7, 12) * 1000;
const none = { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const };
const empty = (how?: 'drop' | 'reject'): ServiceInfo => ({
  service: '10.96.0.20:80/tcp',
  name: 'lab/empty:http',
  affinity: none,
  endpoints: [],
  ...(how ? { noEndpoints: how } : {}),
});
const catalog = (ts: number, node: string, services: ServiceInfo[]): CatalogEvent => ({
  type: 'catalog',
  ts,
  node,
  services,
});

test('a refused Service: the report and the TUI row say "no endpoints (reject)", naming the nodes', () => {
  const state = createState({ windowSeconds: 60 });
  applyEvents(state, [catalog(T0, 'n2', [empty('drop')]), catalog(T0, 'n1', [empty('reject')])]);
  const report = buildReport(state, { scope: 'cumulative' });
  const svc = report.services.find((s) => s.name === 'lab/empty:http')!;
  assert.deepEqual(svc.noEndpoints, { mode: 'reject', nodes: ['n1', 'n2'] });
  assert.match(renderMarkdown(report), /Refused by kube-proxy: no endpoints \(reject\) on n1, n2\./);
  assert.match(renderHtml(report, new SelectionTimeline()), /no endpoints \(reject\) on n1, n2/);
  const row = toViewModel(state, { focus: null, source: 'test', eventsPerSecond: 0 }).services[0]!;
  assert.equal(row.noEndpoints, 'reject');
  assert.equal(backendBars(row, 30).trim(), 'no endpoints (reject)');
  // Both nodes' rules stop refusing it (endpoints came back, or the Service went): no mark.
  applyEvents(state, [catalog(T0 + 1, 'n1', [empty()]), catalog(T0 + 1, 'n2', [])]);
  assert.equal(buildReport(state, { scope: 'cumulative' }).services[0]!.noEndpoints, undefined);
  assert.equal(
    toViewModel(state, { focus: null, source: 'test', eventsPerSecond: 0 }).services[0]!.noEndpoints,
    undefined,
  );
});
