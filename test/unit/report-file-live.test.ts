// Recording from an agent and reporting live from it give the same report, and both
// agree with the selections the (fake) agent was made to send. No root needed: the
// agent's gRPC server runs here over a stand-in event source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../../src/core/event.js';
import { recordAgents } from '../../src/record/recorder.js';
import { readTrace } from '../../src/record/trace-reader.js';
import { reportFromAgents, reportFromFile } from '../../src/report/from-file.js';
import type { Report } from '../../src/report/types.js';
import { FakeSource, sleep } from '../helpers/agent-fake-source.js';
import { waitFor, equals, atLeast } from '../helpers/wait.js';

const WEB = '10.96.0.10:80';
const counts: Record<string, number> = { '10.1.1.2:8080': 900, '10.1.1.3:8080': 600, '10.1.1.4:8080': 300 };

test('the report of a recording equals the live report of the same events, and both match what was sent', {
  timeout: 60_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-live-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const source = new FakeSource();
  const agent = getServer(source, { node: 'n1' });
  const addr = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());

  const stop = new AbortController();
  t.after(() => stop.abort());
  const trace = join(dir, 'live.trace');
  let recorded = 0;
  const recording = recordAgents([addr], trace, { signal: stop.signal, onProgress: (s) => (recorded = s.events) });
  // The window leaves out the client's own "node up" event, stamped with each
  // subscription's connect time: the events below are ten minutes ahead of it (and so
  // within the hour the client accepts ahead of its clock).
  const live = reportFromAgents([addr], { format: 'json', windowSeconds: 60, durationMs: 50_000, signal: stop.signal });
  await waitFor('recorder and live reporter to subscribe', () => equals(agent.info().subscribers, 2), 10_000);

  const t0 = Date.now() * 1000 + 600e6;
  const catalog: CatalogEvent = {
    type: 'catalog',
    ts: t0,
    node: 'n1',
    services: [
      {
        service: `${WEB}/tcp`,
        name: 'lab/web:http',
        affinity: { mode: 'ClientIP', timeoutSeconds: 10, source: 'rules' },
        endpoints: Object.keys(counts),
      },
    ],
  };
  const sent: DnatEvent[] = [];
  const picks = Object.entries(counts).flatMap(([b, n]) => Array.from({ length: n }, () => b));
  for (let i = 0; i < picks.length; i++) {
    // Client i % 30, backend from a fixed shuffle of the picks: spread across clients and time.
    const backend = picks[(i * 7919) % picks.length]!;
    sent.push({
      type: 'dnat',
      ts: t0 + 1000 + i * 20_000,
      node: 'n1',
      proto: 'tcp',
      client: `10.0.0.${i % 30}:${30000 + i}`,
      service: WEB,
      backend,
      hook: 'prerouting',
      ctId: i.toString(16),
    });
  }
  source.emitEvents([catalog]);
  for (let i = 0; i < sent.length; i += 250) {
    source.emitEvents(sent.slice(i, i + 250));
    await sleep(5);
  }
  await waitFor('the recorder to have everything', () => atLeast(recorded, sent.length + 1), 20_000);
  await sleep(800); // the live reporter reads the same stream; let its merge delay pass
  stop.abort();
  const [liveJson, stats] = await Promise.all([live, recording]);

  const fileJson = await reportFromFile(trace, { format: 'json', windowSeconds: 60 });
  // Identical but for when each recording began and ended: the recorder's and the live reporter's own times.
  const unrecorded = (json: string) => {
    const r = JSON.parse(json) as Report;
    assert.ok(r.window.recording, 'the report names its recording');
    return { ...r, window: { ...r.window, recording: null } };
  };
  assert.deepEqual(unrecorded(fileJson), unrecorded(liveJson), 'file and live reports are identical');

  const report = JSON.parse(fileJson) as Report;
  const svc = report.services.find((s) => s.service === `${WEB}/tcp`)!;
  assert.equal(svc.selections, sent.length);
  assert.deepEqual(Object.fromEntries(svc.backends.map((b) => [b.backend, b.selections])), counts);
  assert.equal(svc.clients.length, 30);
  assert.equal(svc.name, 'lab/web:http');
  assert.deepEqual(report.nodes, ['n1']);

  // The trace holds exactly what was sent, plus the client's own node event.
  const back: StickyEvent[] = [];
  const warnings: string[] = [];
  for await (const b of readTrace(trace, { onWarning: (w) => warnings.push(w.message) })) back.push(...b);
  assert.deepEqual(warnings, [], 'the recording was closed cleanly');
  assert.deepEqual(
    back.filter((e) => e.type === 'dnat'),
    sent,
  );
  assert.deepEqual(
    back.filter((e) => e.type === 'catalog'),
    [catalog],
  );
  assert.deepEqual(
    back.filter((e) => e.type === 'node').map((e) => e.type === 'node' && e.state),
    ['up'],
  );
  assert.equal(stats.events, back.length);
});
