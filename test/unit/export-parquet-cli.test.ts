// `export --format parquet` as a hostile user drives it: empty traces, traces of nothing but node and lost events,
// huge and control-character strings (stored raw, read back exactly by DuckDB), a full device, a terminal as stdout,
// an interrupted export (OUT left as it was, no temporary file left), a directory of traces with a rotated one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { requireTools } from '../helpers/env.js';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StickyEvent } from '../../src/core/event.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { cliPath, runCli, startCli } from '../helpers/cli.js';
import { queryEvents, sqlFile } from '../helpers/duckdb.js';
import { waitFor, NotYet } from '../helpers/wait.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-pq-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writeTrace(path: string, events: StickyEvent[], rotateBytes?: number): Promise<void> {
  const w = await TraceWriter.open(path, rotateBytes === undefined ? {} : { rotateBytes });
  for (let i = 0; i < events.length; i += 1000) await w.append(events.slice(i, i + 1000));
  await w.close();
}

function dnat(i: number, extra: Partial<StickyEvent> = {}): StickyEvent {
  const base = dnatEvent({
    ts: T0 + i,
    client: `10.0.${(i >> 8) & 255}.${i & 255}:40000`,
    service: '10.96.0.1:80',
    backend: `10.1.0.${i % 3}:80`,
    ctId: i.toString(16).padStart(16, '0'),
  });
  return { ...base, ...extra } as StickyEvent;
}

async function exportTo(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const r = await runCli(['export', ...args, '--format', 'parquet']);
  return { code: r.code, stderr: r.stderr };
}

test('an empty trace and one of only node and lost events export to files DuckDB and the SQL read', async (t) => {
  const dir = await tempDir(t);
  await writeTrace(join(dir, 'empty.trace'), []);
  await writeTrace(join(dir, 'quiet.trace'), [
    { type: 'node', ts: T0, node: 'n1', state: 'down', reason: 'gone' },
    { type: 'lost', ts: T0 + 1, node: 'n1', count: 7 },
  ]);
  for (const name of ['empty', 'quiet']) {
    const r = await exportTo([join(dir, `${name}.trace`), '-w', join(dir, `${name}.parquet`)]);
    assert.deepEqual(r, { code: 0, stderr: '' }, name);
  }
  const [empty] = await queryEvents([join(dir, 'empty.parquet')], ['SELECT count(*) AS n FROM events']);
  assert.equal(Number(empty![0]!.n), 0);
  const [rows, spread, violations] = await queryEvents(
    [join(dir, 'quiet.parquet')],
    [
      'SELECT type, state, reason, count FROM events ORDER BY seq',
      sqlFile('spread-per-service'),
      sqlFile('affinity-violations'),
    ],
  );
  assert.deepEqual(rows, [
    { type: 'node', state: 'down', reason: 'gone', count: null },
    { type: 'lost', state: null, reason: null, count: 7n },
  ]);
  assert.deepEqual([spread, violations], [[], []]);
});

test('huge strings and control characters are stored as recorded and read back exactly', async (t) => {
  const dir = await tempDir(t);
  const hostile = `lab/\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202e\u0000web:http`;
  const huge = 'p'.repeat(1 << 20);
  await writeTrace(join(dir, 'x.trace'), [
    dnat(1, { serviceName: hostile, backendPod: huge } as Partial<StickyEvent>),
    { type: 'node', ts: T0 + 2, node: 'n1', state: 'down', reason: `\x1b[31m${'r'.repeat(100_000)}` },
  ]);
  const out = join(dir, 'x.parquet');
  assert.deepEqual(await exportTo([join(dir, 'x.trace'), '-w', out]), { code: 0, stderr: '' });
  const [rows] = await queryEvents(
    [out],
    ['SELECT serviceName, svcNamespace, backendPod, reason FROM events ORDER BY seq'],
  );
  assert.equal(rows![0]!.serviceName, hostile);
  assert.equal(rows![0]!.svcNamespace, 'lab');
  assert.equal(rows![0]!.backendPod, huge);
  assert.equal(rows![1]!.reason, `\x1b[31m${'r'.repeat(100_000)}`);
  // The JSON lines of the same trace stay escaped for terminals.
  const jsonl = await runCli(['export', join(dir, 'x.trace')]);
  assert.ok(!jsonl.stdout.includes('\x1b'), 'no raw ESC in the JSON lines');
  assert.match(jsonl.stdout, /\\u001b\]52;c;ZXZpbA==/);
});

test('a full device, a terminal, bad arguments: one line and the exit code', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const trace = join(dir, 'x.trace');
  await writeTrace(trace, [dnat(1), dnat(2)]);
  assert.deepEqual(await exportTo([trace, '-w', '/dev/full']), {
    code: 3,
    stderr: 'stickyscope export: failed to write Parquet to /dev/full: no space left on the device (ENOSPC)\n',
  });
  assert.equal(existsSync('/dev/full'), true);
  const noDir = await exportTo([trace, '-w', join(dir, 'nope', 'x.parquet')]);
  assert.deepEqual(noDir, {
    code: 4,
    stderr: `stickyscope export: failed to write Parquet to ${dir}/nope/x.parquet: no such directory ${dir}/nope (ENOENT)\n`,
  });
  const onItself = await exportTo([trace, '-w', trace]);
  assert.equal(onItself.code, 2);
  assert.match(
    onItself.stderr,
    /^stickyscope export: -w \S+x\.trace is one of the traces being read; give another file\n/,
  );
  const bad = await runCli(['export', trace, '--format', 'csv']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^stickyscope export: --format takes the output format, one of jsonl, parquet; got 'csv'\n/);
  // A terminal as stdout: util-linux's script(1) gives one.
  if (!requireTools(t, 'script')) return;
  const r = spawnSync(
    'script',
    ['-qec', `'${process.execPath}' '${cliPath}' export '${trace}' --format parquet; echo "exit $?"`, '/dev/null'],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  assert.equal(
    r.stdout.replace(/\r/g, ''),
    "stickyscope export: refusing to write Parquet (binary) to a terminal; give -w FILE or redirect stdout\nRun 'stickyscope export --help' for usage.\nexit 2\n",
  );
});

test('an interrupted export leaves OUT as it was and no temporary file; a killed one leaves OUT as it was', {
  timeout: 120_000,
}, async (t) => {
  const dir = await tempDir(t);
  const trace = join(dir, 'big.trace');
  await writeTrace(
    trace,
    Array.from({ length: 300_000 }, (_, i) => dnat(i)),
  );
  const out = join(dir, 'out.parquet');
  await writeFile(out, 'the previous export\n');
  const run = startCli(['export', trace, '--format', 'parquet', '-w', out]);
  // The temporary file: the export under way.
  const partial = async () =>
    (await readdir(dir)).some((f) => f.endsWith('.partial')) || new NotYet(await readdir(dir), 'a .partial file');
  await waitFor('the export to open its temporary file', partial, 30_000, 50);
  run.child.kill('SIGINT');
  const { code } = await run.exit;
  assert.equal(code, 130, run.stderr());
  assert.equal(run.stderr(), `stickyscope export: interrupted; ${out} was not written\n`);
  assert.equal(await readFile(out, 'utf8'), 'the previous export\n');
  assert.deepEqual((await readdir(dir)).sort(), ['big.trace', 'out.parquet']);
  // Killed outright, it cannot clean up: its temporary file stays, OUT still holds the previous export.
  const killed = startCli(['export', trace, '--format', 'parquet', '-w', out]);
  await waitFor('the export to open its temporary file', partial, 30_000, 50);
  killed.child.kill('SIGKILL');
  await killed.exit;
  assert.equal(await readFile(out, 'utf8'), 'the previous export\n');
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f !== 'big.trace' && f !== 'out.parquet'),
    [`.out.parquet.${killed.child.pid}.partial`],
  );
});

test('a directory of traces, one of them rotated, exports each event once', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const traces = join(dir, 'traces');
  await mkdir(traces);
  await writeTrace(
    join(traces, 'a.trace'),
    Array.from({ length: 5000 }, (_, i) => dnat(i)),
    20_000,
  );
  await writeTrace(join(traces, 'b.trace'), [dnat(1, { node: 'n2' } as Partial<StickyEvent>)]);
  await writeFile(join(traces, 'notes.txt'), 'not a trace\n');
  assert.ok((await readdir(traces)).includes('a.trace.1'), 'a.trace was rotated');
  const out = join(dir, 'all.parquet');
  const r = await exportTo([traces, '-w', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, `stickyscope export: warning: ${traces}/notes.txt: not a trace file; skipped\n`);
  const [rows] = await queryEvents(
    [out],
    ['SELECT trace, count(*) AS n, count(DISTINCT ctId) AS ids FROM events GROUP BY trace ORDER BY trace'],
  );
  assert.deepEqual(rows, [
    { trace: join(traces, 'a.trace'), n: 5000n, ids: 5000n },
    { trace: join(traces, 'b.trace'), n: 1n, ids: 1n },
  ]);
});
