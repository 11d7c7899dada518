// The report's live-connection figures (JSON, Markdown, HTML) from a synthetic node whose script gives the answers,
// and the same report from a trace file of those events (a recording replays to the live run's figures).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { reportFromFile } from '../../src/report/from-file.js';
import { findingsOf } from '../../src/report/findings.js';
import { renderMarkdown } from '../../src/report/render-markdown.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { A, B, C, D, E, liveTrace, SERVICE } from '../helpers/live-trace.js';

const WINDOW = 25;

test('report: live connections, bytes, oldest, spreads and predating per Service, backend and client', () => {
  const { events, truth } = liveTrace();
  const state = createState({ windowSeconds: WINDOW, notable: false });
  applyEvents(state, events);
  const report = buildReport(state, { scope: 'window' });
  assert.deepEqual(report.liveSource, { nodes: ['node-a'], bytes: { 'node-a': true }, connectionsDropped: 0 });
  const s = report.services.find((x) => x.service === `${SERVICE}/tcp`)!;
  assert.equal(s.liveConnections, truth.openTotal);
  const bytes = truth.windowBytes(WINDOW);
  const seconds = (Date.parse(report.window.end) - Date.parse(report.window.start)) / 1000;
  for (const backend of [A, B, C, D, E]) {
    const row = s.backends.find((b) => b.backend === backend)!;
    assert.equal(row.liveConnections, truth.open[backend], backend);
    assert.equal(row.bytes, bytes[backend], backend);
    assert.ok(Math.abs(row.bytesPerSecond! - bytes[backend]! / seconds) < 1e-3 * (1 + row.bytesPerSecond!), backend);
    const oldest = truth.oldestSeconds[backend];
    if (oldest === undefined) assert.equal(row.oldestConnectionSeconds, null);
    else assert.ok(Math.abs(row.oldestConnectionSeconds! - oldest) < 1e-6, backend);
  }
  assert.equal(s.predatingConnections?.text, '3 of 3 open connections predate the 2 newest endpoints');
  assert.deepEqual(s.predatingConnections?.newestEndpoints, [D, E]);
  // Clients with open connections and no selection in the span have rows; their open connections by backend.
  const live = Object.fromEntries(
    s.clients.filter((c) => c.liveConnections! > 0).map((c) => [c.client, c.liveConnections]),
  );
  assert.deepEqual(live, truth.openByClient);
  assert.deepEqual(s.clients.find((c) => c.client === '10.0.0.1')?.liveBackends, { [A]: 1 });
  // Open connections 2, 1, 0, 0, 0 over five backends: max over mean 2 / 0.6.
  assert.ok(Math.abs(s.loadSpread!.liveConnections.maxOverMean! - 2 / 0.6) < 1e-9);
  assert.equal(s.loadSpread?.bytes?.verdict, 'skewed');
  const md = renderMarkdown(report);
  assert.match(md, /Open connections now: 3\./);
  assert.match(md, /\*\*3 of 3 open connections predate the 2 newest endpoints\*\*/);
  assert.match(md, new RegExp(`\\| ${A.replace(/\./g, '\\.')} \\| 2 \\| ${bytes[A]} \\|`));
});

test('report: a trace file of live events reports what the live run did', async () => {
  const { events } = liveTrace();
  const state = createState({ windowSeconds: WINDOW, notable: false });
  applyEvents(state, events);
  const live = buildReport(state, { scope: 'window' });
  const dir = await mkdtemp(join(tmpdir(), 'ss-live-'));
  try {
    const path = join(dir, 'live.trace');
    const writer = await TraceWriter.open(path);
    // Batches as an agent sends them: several events of one node each.
    for (let i = 0; i < events.length; i += 7) await writer.append(events.slice(i, i + 7));
    await writer.close();
    const fromFile = JSON.parse(await reportFromFile(path, { format: 'json', windowSeconds: WINDOW }));
    // The file also states its recording's own start and end (the writer's clock), which the run in memory has not.
    assert.ok(fromFile.window.recording, 'the recording span of the file');
    fromFile.window.recording = null;
    // Findings are added as the report is rendered: the same as the report in memory gives.
    assert.deepEqual(fromFile.findings, JSON.parse(JSON.stringify(findingsOf(live))));
    delete fromFile.findings;
    assert.deepEqual(fromFile, JSON.parse(JSON.stringify(live)));
    const html = await reportFromFile(path, { format: 'html', windowSeconds: WINDOW });
    assert.match(html, /Load now: 3 open connections/);
    assert.match(html, /3 of 3 open connections predate the 2 newest endpoints/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('report: without a conntrack source the report has no live fields (older traces read as before)', () => {
  const { events } = liveTrace();
  const state = createState({ notable: false });
  applyEvents(
    state,
    events.filter((e) => e.type === 'dnat' || e.type === 'catalog'),
  );
  const report = buildReport(state, { scope: 'cumulative' });
  assert.equal(report.liveSource, undefined);
  const s = report.services[0]!;
  assert.equal(s.liveConnections, undefined);
  assert.equal(s.backends[0]!.bytes, undefined);
});

test('report: a crafted node name "__proto__" is a node like any other in liveSource', () => {
  const state = createState({ notable: false });
  applyEvents(state, [
    { type: 'sweep', ts: 1.8e15, node: '__proto__', initial: true, entries: 0, open: 0, acct: false, micros: 1 },
  ]);
  const r = buildReport(state, { scope: 'cumulative' });
  assert.deepEqual(r.liveSource?.nodes, ['__proto__']);
  assert.equal(Object.hasOwn(r.liveSource!.bytes, '__proto__'), true);
  assert.match(JSON.stringify(r.liveSource), /"bytes":\{"__proto__":false\}/);
});
