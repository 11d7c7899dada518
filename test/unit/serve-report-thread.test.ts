// serve's reports come from a copy of its state on another thread (issue 31 §3): they must
// hold exactly what the main thread took. Raw and --summaries (an agent without summaries,
// summarised by serve) against the events sent, with a --report-every file beside them, and
// the refused events the main thread counted.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import type { Report } from '../../src/report/types.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { sample, startServe } from '../helpers/serve.js';
import { equals, NotYet, waitFor } from '../helpers/wait.js';

const SENT = 40;

async function run(t: TestContext, mode: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-report-thread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const source = new FakeSource();
  const agent = getServer(source, { node: 'node-a' });
  const address = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const args = ['--agent', address, '--report-every', '200ms', '--report-dir', dir, ...mode];
  const serve = await startServe(t, args);
  await waitFor('serve to subscribe', () => equals(agent.info().subscribers, 1), 10_000);
  const now = Date.now() * 1000;
  // Client i % 4 picks backend i % 3: the report's per-backend counts are known.
  const events = Array.from({ length: SENT }, (_, i) =>
    dnat(i, 'node-a', { ts: now + i, client: `10.0.0.${i % 4}:${40000 + i}`, backend: `10.1.${i % 3}.2:8080` }),
  );
  // One event from 1970: the subscription refuses it (timeTooEarly) on the main thread.
  source.emitEvents([...events, dnat(SENT, 'node-a', { ts: 1 })]);
  const want = { '10.1.0.2:8080': 14, '10.1.1.2:8080': 13, '10.1.2.2:8080': 13 };
  const report = await waitFor(
    'the report to hold every selection',
    async () => {
      const r = await serve.get('/report.json?window=all');
      if (r.status !== 200) return new NotYet(`${r.status} ${r.text}`, 200);
      const rep = JSON.parse(r.text) as Report;
      const got = Object.fromEntries(rep.services[0]?.backends.map((b) => [b.backend, b.selections]) ?? []);
      return JSON.stringify(got) === JSON.stringify(want) ? rep : new NotYet(got, want);
    },
    10_000,
    100,
  );
  assert.equal(report.services[0]!.selections, SENT);
  assert.equal(report.rejectedEvents.total, 1, 'the refused event, counted on the main thread, is in the report');
  assert.equal(report.rejectedEvents.reasons.timeTooEarly, 1);
  const metrics = (await serve.get('/metrics')).text;
  assert.equal(sample(metrics, 'stickyscope_service_selections_total'), SENT);
  assert.equal(sample(metrics, 'stickyscope_rejected_events_total', { reason: 'timeTooEarly' }), 1);
  // The periodic file comes from the same thread: a later one holds them all too.
  const file = await waitFor(
    'a periodic report with every selection',
    () => {
      const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
      const last = names.sort().at(-1);
      const r = last ? (JSON.parse(readFileSync(join(dir, last), 'utf8')) as Report) : undefined;
      return r?.services[0]?.selections === SENT ? r : new NotYet(r?.services[0]?.selections, SENT);
    },
    10_000,
    100,
  );
  assert.equal(file.window.scope, 'window');
  assert.equal((await serve.stop()).code, 0, serve.run.stderr());
}

test('serve: the report thread holds what the main thread took (raw)', (t) => run(t, []));
test('serve --summaries: the report thread holds what the main thread summarised', (t) => run(t, ['--summaries']));
