// A report states the span of the events it counts: from the first to the last selection
// sent, not from the agent's catalog (stamped with its rules' last change, here 3 minutes
// before anyone listened) nor to its later counters. The ground truth is the times of the
// selections this test sends; the same for a recording, a live report and `serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import { parseIsoMicros, type CatalogEvent, type DnatEvent, type StickyEvent } from '../../src/core/event.js';
import { recordAgents } from '../../src/record/recorder.js';
import { reportFromAgents, reportFromFile } from '../../src/report/from-file.js';
import type { Report } from '../../src/report/types.js';
import { FakeSource, sleep } from '../helpers/agent-fake-source.js';
import { waitFor } from '../helpers/wait.js';
import { startServe } from '../helpers/serve.js';

const WEB = '10.96.0.10:80';
const BACKENDS = ['10.1.1.2:8080', '10.1.1.3:8080'];

function assertSpan(r: Report, first: number, last: number, what: string): void {
  const start = parseIsoMicros(r.window.start);
  const end = parseIsoMicros(r.window.end);
  assert.ok(Math.abs(start - first) <= 1e6, `${what}: starts ${r.window.start}, first selection ${iso(first)}`);
  assert.ok(Math.abs(end - last) <= 1e6, `${what}: ends ${r.window.end}, last selection ${iso(last)}`);
  assert.ok(r.window.recording, `${what}: names the recording's span`);
  assert.ok(
    parseIsoMicros(r.window.recording.start) <= first,
    `${what}: the recording began before the first selection`,
  );
  assert.ok(parseIsoMicros(r.window.recording.end) >= last, `${what}: the recording ended after the last selection`);
}

const iso = (us: number) => new Date(us / 1000).toISOString();

test('file, live and serve reports span the selections counted, not the catalog or counters', {
  timeout: 60_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-span-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const source = new FakeSource();
  const agent = getServer(source, { node: 'n1' });
  const addr = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  // The rules last changed 3 minutes ago: the agent hands this catalog, with that time, to every subscriber.
  const catalog: CatalogEvent = {
    type: 'catalog',
    ts: Date.now() * 1000 - 180e6,
    node: 'n1',
    services: [
      {
        service: `${WEB}/tcp`,
        name: 'lab/web:http',
        affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
        endpoints: BACKENDS,
      },
    ],
  };
  source.emitEvents([catalog]);

  const serve = await startServe(t, ['--agent', addr]);
  const stop = new AbortController();
  t.after(() => stop.abort());
  const trace = join(dir, 'span.trace');
  let recorded = 0;
  const recording = recordAgents([addr], trace, { signal: stop.signal, onProgress: (s) => (recorded = s.events) });
  const live = reportFromAgents([addr], { format: 'json', durationMs: 50_000, signal: stop.signal });
  await waitFor('serve, recorder and live reporter to subscribe', () => agent.info().subscribers === 3, 10_000);
  await sleep(1500); // listening before the first selection: the recording's start is not the span's

  const sent: DnatEvent[] = [];
  for (let i = 0; i < 40; i++) {
    sent.push({
      type: 'dnat',
      ts: Date.now() * 1000,
      node: 'n1',
      proto: 'tcp',
      client: `10.0.0.${i % 5}:${30000 + i}`,
      service: WEB,
      backend: BACKENDS[i % 2]!,
      hook: 'prerouting',
      ctId: i.toString(16),
    });
    source.emitEvents([sent.at(-1)!]);
    await sleep(50);
  }
  // Counters after the selections: events, but nothing a figure counts.
  await sleep(2500);
  const counters: StickyEvent = {
    type: 'counters',
    ts: Date.now() * 1000,
    node: 'n1',
    insertFailed: 0,
    drop: 0,
    earlyDrop: 0,
    entries: 3,
  };
  source.emitEvents([counters]);
  await waitFor('the recorder to have every event', () => recorded >= sent.length + 3, 20_000);
  const first = sent[0]!.ts;
  const last = sent.at(-1)!.ts;

  const all = async (path: string): Promise<Report> => {
    for (;;) {
      const r = JSON.parse((await serve.get(path)).text) as Report;
      if (r.services[0]?.selections === sent.length) return r;
      await sleep(50);
    }
  };
  assertSpan(await all('/report.json?window=all'), first, last, 'serve, everything');
  assertSpan(await all('/report.json'), first, last, 'serve, its 60 s window');
  await sleep(800); // the live reporter's merge delay
  stop.abort();
  const [liveJson] = await Promise.all([live, recording]);
  const liveReport = JSON.parse(liveJson) as Report;
  assert.equal(liveReport.services[0]!.selections, sent.length);
  assertSpan(liveReport, first, last, 'report --agent');
  const fromFile = JSON.parse(await reportFromFile(trace, { format: 'json' })) as Report;
  assert.equal(fromFile.services[0]!.selections, sent.length);
  assertSpan(fromFile, first, last, 'report FILE');
  const md = await reportFromFile(trace, { format: 'md' });
  assert.match(md, new RegExp(`Events counted \\(cumulative\\): ${fromFile.window.start} to ${fromFile.window.end}`));
  assert.match(md, /- Recording: \S+Z to \S+Z/);
});
