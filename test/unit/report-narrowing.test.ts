// An incident review narrows a recording afterwards: --since/--until and --service on report, export and replay.
// The expected counts come from the events the test wrote, not from stickyscope.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isoMicros, type StickyEvent } from '../../src/core/event.js';
import { parseTimeBound } from '../../src/cli/command.js';
import { UsageError } from '../../src/core/errors.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { dnat } from '../helpers/agent-fake-source.js';
import { runCli } from '../helpers/cli.js';

const T0 = Date.UTC(2026, 11, 7, 11, 0, 0) * 1000;
const S = 1_000_000;
const catalog: StickyEvent = {
  type: 'catalog',
  ts: T0 - 3600 * S, // the rules were last read an hour before the recording's events
  node: 'node-a',
  services: [
    {
      service: '10.96.0.10:80/tcp',
      name: 'lab/web:http',
      affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
      endpoints: ['10.1.0.2:8080', '10.1.1.2:8080', '10.1.2.2:8080'],
    },
    {
      service: '10.96.0.11:80/tcp',
      name: 'lab/api:http',
      affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
      endpoints: ['10.2.0.2:8080'],
    },
  ],
};

/** 600 flows, one a second for ten minutes, alternating between the two Services. */
function flows(): StickyEvent[] {
  return Array.from({ length: 600 }, (_, i) =>
    i % 2 === 0
      ? dnat(i, 'node-a', { ts: T0 + i * S })
      : dnat(i, 'node-a', { ts: T0 + i * S, service: '10.96.0.11:80', backend: '10.2.0.2:8080' }),
  );
}

async function traceOf(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-narrow-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'capture.trace');
  const w = await TraceWriter.open(path, { nodes: ['node-a'] });
  await w.append([catalog, ...flows()]);
  await w.close();
  return path;
}

interface ServiceRow {
  name: string | null;
  selections: number;
}

test('report FILE --service --since --until counts exactly the flows of that Service in that range', async (t) => {
  const path = await traceOf(t);
  const since = T0 + 100 * S;
  const until = T0 + 200 * S;
  const expected = flows().filter(
    (e) => e.ts >= since && e.ts < until && e.type === 'dnat' && e.service === '10.96.0.10:80',
  ).length;
  const r = await runCli([
    'report',
    path,
    '--service',
    'lab/web',
    '--since',
    isoMicros(since),
    '--until',
    isoMicros(until),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { services: ServiceRow[] };
  assert.deepEqual(
    report.services.map((s) => [s.name, s.selections]),
    [['lab/web:http', expected]],
  );

  const all = JSON.parse((await runCli(['report', path])).stdout) as { services: ServiceRow[] };
  assert.equal(all.services.length, 2, 'without narrowing both Services are there');
});

test('export FILE --since --until writes only the range, and an empty range says what the file spans', async (t) => {
  const path = await traceOf(t);
  const r = await runCli(['export', path, '--since', isoMicros(T0 + 590 * S)]);
  assert.equal(r.code, 0, r.stderr);
  const types = r.stdout
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { type: string }).type);
  assert.deepEqual(types, ['catalog', ...Array(10).fill('dnat')], 'the catalog in force, then the last 10 flows');

  const empty = await runCli(['export', path, '--since', '10m']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stderr, /no events from .* to the end; the recording spans 2026-12-07T11:00:00\.000000Z to /);
});

test('--since/--until take RFC 3339 and durations back from now, and refuse the rest', async () => {
  const now = Date.UTC(2026, 11, 7, 12, 0, 0);
  assert.equal(parseTimeBound('10m', '--since', now), (now - 600_000) * 1000);
  assert.equal(parseTimeBound('1h30m', '--since', now), (now - 5_400_000) * 1000);
  assert.equal(parseTimeBound('2026-12-07T11:00:00Z', '--since', now), Date.UTC(2026, 11, 7, 11) * 1000);
  assert.equal(parseTimeBound('2026-12-07T12:00:00+01:00', '--since', now), Date.UTC(2026, 11, 7, 11) * 1000);
  assert.equal(parseTimeBound('2026-12-07T11:00:00.000123Z', '--since', now), Date.UTC(2026, 11, 7, 11) * 1000 + 123);
  for (const bad of ['yesterday', '2026-12-07', '2026-13-40T99:00:00Z', '-5m', ''])
    assert.throws(() => parseTimeBound(bad, '--since', now), UsageError, `'${bad}'`);
  const r = await runCli([
    'report',
    '/nonexistent',
    '--since',
    '2026-12-07T12:00:00Z',
    '--until',
    '2026-12-07T11:00:00Z',
  ]);
  assert.equal(r.code, 2, 'since after until is refused before any file is read');
});
