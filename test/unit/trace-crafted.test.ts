// Crafted traces with valid CRCs and hostile contents (times, addresses, ports, counts, control characters, null parts,
// wrong header types, repeated segments, damage of frame look-alikes), through the real CLI: each run ends in seconds
// under a small heap, prints no stack trace, and counts what it dropped, checked against what was written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../../src/core/event.js';
import { encodeFrame, encodePreamble } from '../../src/record/frame.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { encodeBatch } from '../../src/protocol/wire.js';
import { cliPath } from '../helpers/cli.js';
import type { Report } from '../../src/report/types.js';
import { getServer } from '../../src/agent/server.js';
import { FakeSource } from '../helpers/agent-fake-source.js';
import { waitFor, equals } from '../helpers/wait.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const WEB = '10.96.0.10:80';
/**
 * A child that takes longer than this is killed and the test fails. Each case takes a second or two on an idle machine;
 * the margin is for a loaded one (the old reader took minutes on the damage cases, or never ended).
 */
const CHILD_TIMEOUT_MS = 30_000;
/** The children's heap cap (MB): reading a few MB of trace needs far less. */
const HEAP_MB = 96;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(args: string[]): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** The checks every run gets: ended by itself in time, no stack trace, an ordinary exit code. */
function assertOrdinary(r: Run, what: string): void {
  assert.equal(r.signal, null, `${what}: killed after ${r.ms} ms (hung?); stderr: ${r.stderr.slice(0, 500)}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |RangeError|TypeError|heap out of memory/, `${what}: stack trace in stderr`);
  assert.ok(r.code === 0 || r.code === 4, `${what}: exit ${r.code}; stderr: ${r.stderr.slice(0, 500)}`);
  for (const line of r.stderr.split('\n').filter(Boolean))
    assert.ok(line.length < 1000, `${what}: a stderr line of ${line.length} chars`);
}

/** export, then report in each format; returns the export and the JSON report. */
async function runAll(file: string, what: string): Promise<{ exp: Run; report: Report }> {
  const [exp, json, md, html] = await Promise.all([
    cli(['export', file]),
    cli(['report', file, '--format', 'json']),
    cli(['report', file, '--format', 'md']),
    cli(['report', file, '--format', 'html']),
  ]);
  assertOrdinary(exp, `${what}: export`);
  assertOrdinary(json, `${what}: report json`);
  assertOrdinary(md, `${what}: report md`);
  assertOrdinary(html, `${what}: report html`);
  for (const line of exp.stdout.split('\n').filter(Boolean)) JSON.parse(line);
  return { exp, report: JSON.parse(json.stdout) as Report };
}

const catalog: CatalogEvent = {
  type: 'catalog',
  ts: T0,
  node: 'n1',
  services: [
    {
      service: `${WEB}/tcp`,
      name: 'lab/web:http',
      affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' },
      endpoints: ['10.1.1.2:8080', '10.1.1.3:8080'],
    },
  ],
};

/** Selection i: client i % 10, always backend 10.1.1.2 (so every repeat is a held pick). */
function pick(i: number, over: Partial<DnatEvent> = {}): DnatEvent {
  return dnatEvent({
    ts: T0 + 1000 + i * 1000,
    client: `10.0.0.${i % 10}:${30000 + i}`,
    service: WEB,
    backend: '10.1.1.2:8080',
    ctId: i.toString(16),
    ...over,
  });
}

function header(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tool: 'stickyscope',
    toolVersion: 'test',
    recordingId: 'r1',
    segment: 0,
    startTime: T0,
    nodes: ['n1'],
    agents: [],
    catalogs: [],
    ...over,
  };
}

/** A trace written frame by frame: a header (any JSON, or raw bytes), batches, an end frame. */
function trace(head: unknown, batches: StickyEvent[][], extra: Buffer[] = []): Buffer {
  const headBytes = Buffer.isBuffer(head) ? head : Buffer.from(JSON.stringify(head));
  const events = batches.reduce((n, b) => n + b.length, 0);
  return Buffer.concat([
    encodePreamble(),
    encodeFrame('header', headBytes),
    ...extra,
    ...batches.map((b) => encodeFrame('batch', encodeBatch(b))),
    encodeFrame('end', Buffer.from(JSON.stringify({ endTime: T0 + 1e9, events, continued: false }))),
  ]);
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-crafted-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const selections = (report: Report) => report.services.reduce((n, s) => n + s.selections, 0);

test('impossible times are dropped and counted, and do not move the window', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const good = Array.from({ length: 50 }, (_, i) => pick(i));
  const bad: [number, string][] = [
    [Number.NaN, 'timeNotFinite'],
    [Number.POSITIVE_INFINITY, 'timeNotFinite'],
    [Number.NEGATIVE_INFINITY, 'timeNotFinite'],
    [1e300, 'timeTooLate'],
    [Date.UTC(10000, 0, 1) * 1000, 'timeTooLate'],
    [Date.now() * 1000 + 3 * 3600e6, 'timeTooLate'],
    [0, 'timeTooEarly'],
    [-1, 'timeTooEarly'],
    [Date.UTC(2026, 0, 1), 'timeTooEarly'], // milliseconds, not microseconds
  ];
  // Each impossible time inside a run of good selections, as a selection and as other kinds.
  const batches: StickyEvent[][] = [[catalog]];
  for (let i = 0; i < good.length; i += 5) {
    const k = i / 5;
    const b: StickyEvent[] = good.slice(i, i + 5);
    if (k < bad.length) b.splice(2, 0, pick(1000 + k, { ts: bad[k]![0], client: `10.0.0.${k}:40000` }));
    batches.push(b);
  }
  batches.push([
    { type: 'lost', ts: Number.NaN, node: 'n1', count: 1 },
    { type: 'node', ts: 1e300, node: 'n1', state: 'down' },
    {
      type: 'evicted',
      ts: T0 + 2000,
      since: Number.POSITIVE_INFINITY,
      node: 'n1',
      list: 'KUBE-SEP-X',
      endpoint: '10.1.1.2:8080',
      client: '10.0.0.1',
      capacity: 200,
    },
    { ...catalog, ts: Number.NEGATIVE_INFINITY },
  ]);
  const file = join(dir, 'times.trace');
  await writeFile(file, trace(header(), batches));
  const { exp, report } = await runAll(file, 'times');
  assert.equal(exp.stdout.trim().split('\n').length, 1 + good.length, 'the catalog and the good selections exported');
  assert.match(exp.stderr, /times\.trace: event 2 of the batch at byte \d+ is rejected: ts is NaN/);
  assert.equal(report.rejectedEvents.total, bad.length + 4);
  assert.equal(report.rejectedEvents.reasons.timeNotFinite, 3 + 1 + 1 + 1);
  assert.equal(report.rejectedEvents.reasons.timeTooLate, 3 + 1);
  assert.equal(report.rejectedEvents.reasons.timeTooEarly, 3);
  // 50 picks by 10 clients, each always to the same backend: 40 repeats, all held.
  const web = report.services[0]!;
  assert.equal(web.selections, good.length);
  assert.deepEqual(web.stickiness.pairs, 40);
  assert.deepEqual(web.stickiness.sameBackend, 40);
  assert.equal(web.affinityVerdicts.held, 40);
  assert.equal(report.window.end, new Date((T0 + 1000 + 49 * 1000) / 1000).toISOString().replace('Z', '000Z'));
});

test('hostile addresses, ports, counts and strings: dropped or carried, never a crash', {
  timeout: 60_000,
}, async (t) => {
  const dir = await tempDir(t);
  const ctl = 'a\u0000b\u001b[31mred\u0007\r\n\u009b2J';
  const badAddress: Partial<DnatEvent>[] = [
    { client: 'not-an-address' },
    { client: '10.0.0.1:99999' },
    { service: '10.96.0.10' },
    { backend: '[zz::1]:80' },
    { backend: '256.1.1.1:80' },
    { client: '' },
    { service: `${'9'.repeat(100_000)}:80` },
    { client: ctl },
  ];
  const flows: StickyEvent[] = badAddress.map((over, i) => pick(100 + i, over));
  const counts: StickyEvent[] = [
    { type: 'lost', ts: T0 + 5000, node: 'n1', count: 2 ** 60 },
    { type: 'counters', ts: T0 + 5000, node: 'n1', insertFailed: 2 ** 63, drop: 0, earlyDrop: 0, entries: 1 },
    { type: 'lost', ts: T0 + 5000, node: 'n1', count: -1 },
  ];
  const strange: StickyEvent[] = [
    { ...pick(1), node: ctl, serviceName: ctl, backendPod: ctl },
    { type: 'node', ts: T0 + 6000, node: ctl, state: 'down', reason: ctl.repeat(1000) },
    { type: 'lost', ts: T0 + 7000, node: 'n1', count: 3 },
  ];
  const badCatalogs: StickyEvent[] = [
    { ...catalog, services: [{ ...catalog.services[0]!, service: '' }] },
    { ...catalog, services: [{ ...catalog.services[0]!, endpoints: ['10.1.1.2:70000'] }] },
    {
      ...catalog,
      services: [{ ...catalog.services[0]!, affinity: { mode: 'ClientIP', timeoutSeconds: -5, source: 'rules' } }],
    },
  ];
  const file = join(dir, 'fields.trace');
  await writeFile(file, trace(header(), [[catalog, pick(0)], flows, counts, strange, badCatalogs]));
  const { exp, report } = await runAll(file, 'fields');
  assert.equal(exp.stdout.trim().split('\n').length, 2 + strange.length);
  assert.equal(report.rejectedEvents.reasons.badAddress, badAddress.length + 2);
  assert.equal(report.rejectedEvents.reasons.badCount, counts.length);
  assert.equal(report.rejectedEvents.reasons.malformed, 1);
  assert.equal(report.lostEvents, 3);
  assert.ok(
    report.nodes.includes(ctl),
    'a node name with control characters is carried, for display code to neutralise',
  );
});

test('headers of the wrong type or with null, foreign or malformed catalogs', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const cases: [string, unknown, number][] = [
    ['catalogs-null', header({ catalogs: [null] }), 1],
    ['catalogs-number', header({ catalogs: [5, 'x'] }), 2],
    ['catalogs-dnat', header({ catalogs: [pick(7)] }), 1],
    ['services-null', header({ catalogs: [{ ...catalog, services: [null] }] }), 1],
    [
      'service-missing-affinity',
      header({ catalogs: [{ ...catalog, services: [{ service: `${WEB}/tcp`, endpoints: [] }] }] }),
      1,
    ],
    [
      'endpoints-string',
      header({ catalogs: [{ ...catalog, services: [{ ...catalog.services[0], endpoints: 'x' }] }] }),
      1,
    ],
    ['catalog-ts-string', header({ catalogs: [{ ...catalog, ts: 'now' }] }), 1],
    ['mixed', header({ catalogs: [null, catalog] }), 1],
    ['header-array', [1, 2, 3], 0],
    ['header-string', 'stickyscope', 0],
    ['header-null', null, 0],
    ['header-not-json', Buffer.from('{"tool": "stickyscope", '), 0],
    ['nodes-string', header({ nodes: 'n1' }), 0],
    ['segment-negative', header({ segment: -1 }), 0],
    ['segment-huge', header({ segment: 1e300 }), 0],
    ['start-string', header({ startTime: 'now' }), 0],
  ];
  for (const [name, head, rejected] of cases) {
    const file = join(dir, `${name}.trace`);
    await writeFile(file, trace(head, [[pick(0), pick(1)]]));
    const [exp, json] = await Promise.all([cli(['export', file]), cli(['report', file, '--format', 'json'])]);
    assertOrdinary(exp, `${name}: export`);
    assertOrdinary(json, `${name}: report`);
    const lines = exp.stdout.trim().split('\n');
    assert.equal(lines.length, name === 'mixed' ? 3 : 2, `${name}: the good events exported`);
    const report = JSON.parse(json.stdout);
    assert.equal(report.rejectedEvents.total, rejected, `${name}: rejected`);
    if (rejected === 0)
      assert.match(exp.stderr, new RegExp(`${name}\\.trace: the header frame at byte 10 is intact but unreadable`));
    else assert.match(exp.stderr, new RegExp(`${name}\\.trace: the header's catalogs\\[\\d\\] at byte 10 is rejected`));
  }
});

test('a rotated set with a copied or foreign segment: one warning naming both files, no loop', {
  timeout: 60_000,
}, async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'day.trace');
  const w = await TraceWriter.open(path, { rotateBytes: 2000 });
  const total = 400;
  for (let b = 0; b < total / 20; b++) await w.append(Array.from({ length: 20 }, (_, i) => pick(b * 20 + i)));
  await w.close();
  assert.ok(w.stats.files.length >= 4, `rotated into ${w.stats.files.length} files`);
  const ctIds = (r: Run) =>
    r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).ctId as string);

  // The hostile user's step: day.trace copied over day.trace.1.
  await copyFile(path, `${path}.1`);
  const { exp, report } = await runAll(path, 'copied over .1');
  const ids = ctIds(exp);
  assert.equal(new Set(ids).size, ids.length, 'no event exported twice');
  assert.ok(ids.length > 0 && ids.length < total);
  assert.equal(selections(report), ids.length);
  const warning = exp.stderr.split('\n').filter((l) => l.includes('segment'));
  assert.equal(warning.length, 1, exp.stderr);
  assert.ok(warning[0]!.includes(`${path}.1`) && warning[0]!.includes(path), warning[0]);

  // Segment 2 replaced by segment 1 (repeated number), then by a segment of another recording.
  await rm(`${path}.1`);
  const w2 = await TraceWriter.open(join(dir, 'other.trace'), { rotateBytes: 2000 });
  for (let b = 0; b < 10; b++) await w2.append(Array.from({ length: 20 }, (_, i) => pick(5000 + b * 20 + i)));
  await w2.close();
  for (const [from, why] of [
    [`${path}.3`, 'repeated'],
    [join(dir, 'other.trace.2'), 'foreign'],
  ] as const) {
    const w3 = await TraceWriter.open(path, { rotateBytes: 2000 });
    for (let b = 0; b < total / 20; b++) await w3.append(Array.from({ length: 20 }, (_, i) => pick(b * 20 + i)));
    await w3.close();
    await copyFile(from, `${path}.2`);
    const r = await cli(['export', path]);
    assertOrdinary(r, why);
    const got = ctIds(r);
    assert.equal(new Set(got).size, got.length, `${why}: no event exported twice`);
    assert.equal(r.stderr.split('\n').filter((l) => l.includes(`${path}.2 should`)).length, 1, `${why}: ${r.stderr}`);
  }
});

test('damage made of frame look-alikes is skipped in time linear in its size', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  // 6 MB in which every fifth byte starts a "batch" claiming the largest length: trying
  // each offset in turn checks 16 MiB of CRC for each, about 20 TB in all.
  const damage = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i + 5 <= damage.length; i += 5) damage.set([0x42, 0x80, 0x80, 0x80, 0x08], i);
  const file = join(dir, 'damaged.trace');
  const after = [pick(1), pick(2), pick(3)];
  const body = Buffer.concat([
    encodePreamble(),
    encodeFrame('header', Buffer.from(JSON.stringify(header({ catalogs: [catalog] })))),
    encodeFrame('batch', encodeBatch([pick(0)])),
  ]);
  const end = encodeFrame('end', Buffer.from(JSON.stringify({ endTime: T0 + 1e9, events: 4, continued: false })));
  await writeFile(file, Buffer.concat([body, damage, encodeFrame('batch', encodeBatch(after)), end]));
  const { exp, report } = await runAll(file, 'damage');
  assert.equal(exp.stdout.trim().split('\n').length, 1 + 1 + after.length);
  assert.match(
    exp.stderr,
    new RegExp(
      `damaged frame at byte ${body.length} .*resuming at byte ${body.length + damage.length} \\(${damage.length} bytes skipped\\)`,
    ),
  );
  assert.equal(selections(report), 1 + after.length);
});

test('an agent sending impossible times: report --agent counts and drops them', { timeout: 60_000 }, async (t) => {
  const source = new FakeSource();
  const agent = getServer(source, { node: 'n1' });
  const addr = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const run = cli(['report', '--agent', addr, '--duration', '3s', '--format', 'json']);
  await waitFor('the reporter to subscribe', () => equals(agent.info().subscribers, 1), 10_000);
  const now = Date.now() * 1000;
  const good = Array.from({ length: 20 }, (_, i) => pick(i, { ts: now + i * 1000 }));
  source.emitEvents([{ ...catalog, ts: now }, ...good.slice(0, 10)]);
  source.emitEvents([
    pick(100, { ts: Number.NaN }),
    pick(101, { ts: Number.POSITIVE_INFINITY }),
    pick(102, { ts: 1e300 }),
  ]);
  source.emitEvents([pick(103, { ts: Date.UTC(10000, 0, 1) * 1000 }), ...good.slice(10)]);
  const r = await run;
  assertOrdinary(r, 'report --agent');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.split('\n').filter((l) => l.includes('is rejected')).length, 1, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.rejectedEvents, {
    total: 4,
    reasons: { timeNotFinite: 2, timeTooLate: 2, timeTooEarly: 0, badAddress: 0, badCount: 0, malformed: 0 },
  });
  assert.equal(selections(report), good.length);
  assert.equal(report.services[0].stickiness.sameBackend, 10);
});
