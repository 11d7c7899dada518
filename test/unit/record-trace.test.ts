// Trace files: what is written is read back, and damaged files are read as far as they
// can be, with warnings naming byte offsets. Offsets are checked against file sizes
// measured while writing, not against the reader's own idea of the layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { readTrace, type TraceWarning } from '../../src/record/trace-reader.js';
import type { TraceHeader } from '../../src/record/trace-header.js';
import { InputError } from '../../src/core/errors.js';
import type { CatalogEvent, StickyEvent } from '../../src/core/event.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;

function batchOf(b: number, n: number): StickyEvent[] {
  const out: StickyEvent[] = [];
  for (let i = 0; i < n; i++) {
    const k = b * n + i;
    out.push({
      type: 'dnat',
      ts: T0 + k * 1000,
      node: k % 7 === 0 ? 'node-b' : 'node-a',
      proto: k % 3 === 0 ? 'udp' : 'tcp',
      client: `10.0.${b}.${i % 250}:${30000 + i}`,
      service: '10.96.0.10:80',
      backend: `10.1.1.${(k % 3) + 2}:8080`,
      hook: 'prerouting',
      ctId: k.toString(16),
      serviceName: 'lab/web:http',
    });
  }
  out.push({ type: 'lost', ts: T0 + (b + 1) * n * 1000, node: 'node-a', count: b });
  out.push({
    type: 'counters',
    ts: T0 + (b + 1) * n * 1000,
    node: 'node-a',
    insertFailed: 1,
    drop: 2,
    earlyDrop: 3,
    entries: 400 + b,
  });
  return out;
}

const catalog: CatalogEvent = {
  type: 'catalog',
  ts: T0,
  node: 'node-a',
  services: [
    {
      service: '10.96.0.10:80/tcp',
      name: 'lab/web:http',
      affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' },
      endpoints: ['10.1.1.2:8080', '10.1.1.3:8080', '10.1.1.4:8080'],
    },
  ],
};

/** Writes `count` batches; returns them and the file offset each batch's frame starts at. */
async function writeBatches(
  path: string,
  count: number,
  perBatch = 50,
): Promise<{ batches: StickyEvent[][]; starts: number[]; ends: number[] }> {
  const w = await TraceWriter.open(path, { nodes: ['node-a'] });
  const batches: StickyEvent[][] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (let b = 0; b < count; b++) {
    starts.push((await stat(path)).size);
    const batch = b === 0 ? [catalog, ...batchOf(b, perBatch)] : batchOf(b, perBatch);
    await w.append(batch);
    batches.push(batch);
    ends.push((await stat(path)).size);
  }
  await w.close();
  return { batches, starts, ends };
}

async function readAll(
  path: string,
  opts: { followRotation?: boolean } = {},
): Promise<{ events: StickyEvent[]; warnings: TraceWarning[] }> {
  const warnings: TraceWarning[] = [];
  const events: StickyEvent[] = [];
  for await (const batch of readTrace(path, { ...opts, onWarning: (w) => warnings.push(w) })) events.push(...batch);
  return { events, warnings };
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-trace-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('round trip: batches written are read back equal, with no warnings', { timeout: 10_000 }, async (t) => {
  const path = join(await tempDir(t), 'a.trace');
  const before = Date.now() * 1000;
  const { batches } = await writeBatches(path, 20);
  const { events, warnings } = await readAll(path);
  assert.deepEqual(warnings, []);
  assert.deepEqual(events, batches.flat());
  const headers: TraceHeader[] = [];
  for await (const _ of readTrace(path, { onHeader: (h) => headers.push(h) }));
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(headers.length, 1);
  assert.equal(headers[0]!.toolVersion, pkg.version);
  assert.deepEqual(headers[0]!.nodes, ['node-a']);
  assert.ok(headers[0]!.startTime >= before && headers[0]!.startTime <= Date.now() * 1000);
});

test('a truncated file: offset of the broken frame reported, every earlier event returned', {
  timeout: 10_000,
}, async (t) => {
  const path = join(await tempDir(t), 'a.trace');
  const { batches, starts, ends } = await writeBatches(path, 10);
  const cut = starts[7]! + Math.floor((ends[7]! - starts[7]!) / 2);
  await truncate(path, cut);
  const { events, warnings } = await readAll(path);
  assert.deepEqual(events, batches.slice(0, 7).flat());
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.kind, 'truncated');
  assert.equal(warnings[0]!.offset, starts[7]);
  assert.match(warnings[0]!.message, new RegExp(`ends at byte ${cut}`));
});

test('a file cut exactly between frames reads fully and says the recording was interrupted', {
  timeout: 10_000,
}, async (t) => {
  const path = join(await tempDir(t), 'a.trace');
  const { batches, ends } = await writeBatches(path, 5);
  await truncate(path, ends[2]!);
  const { events, warnings } = await readAll(path);
  assert.deepEqual(events, batches.slice(0, 3).flat());
  assert.deepEqual(
    warnings.map((w) => [w.kind, w.offset]),
    [['interrupted', ends[2]]],
  );
});

for (const where of ['payload', 'length', 'checksum'] as const) {
  test(`flipped bytes in a middle frame's ${where}: warning at its offset, later frames still read`, {
    timeout: 10_000,
  }, async (t) => {
    const path = join(await tempDir(t), 'a.trace');
    const { batches, starts, ends } = await writeBatches(path, 10);
    const bytes = await readFile(path);
    const at = { payload: starts[4]! + 40, length: starts[4]! + 1, checksum: ends[4]! - 2 }[where];
    bytes[at]! ^= 0xff;
    bytes[at + 1]! ^= 0x5a;
    await writeFile(path, bytes);
    const { events, warnings } = await readAll(path);
    assert.deepEqual(events, [...batches.slice(0, 4), ...batches.slice(5)].flat());
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0]!.kind, 'corrupt');
    assert.equal(warnings[0]!.offset, starts[4]);
    assert.match(warnings[0]!.message, new RegExp(`resuming at byte ${ends[4]}`));
  });
}

test('several damaged frames, including the last: each reported, the rest read', { timeout: 10_000 }, async (t) => {
  const path = join(await tempDir(t), 'a.trace');
  const { batches, starts } = await writeBatches(path, 12);
  const bytes = await readFile(path);
  for (const b of [2, 3, 8, 11]) bytes[starts[b]! + 20]! ^= 0x01;
  await writeFile(path, bytes);
  const { events, warnings } = await readAll(path);
  assert.deepEqual(events, batches.filter((_, b) => ![2, 3, 8, 11].includes(b)).flat());
  // Adjacent damaged frames are one damaged stretch: the reader cannot see where inside it one frame ended.
  assert.deepEqual(
    warnings.map((w) => [w.kind, w.offset]),
    [
      ['corrupt', starts[2]],
      ['corrupt', starts[8]],
      ['corrupt', starts[11]],
    ],
  );
  assert.match(warnings[0]!.message, new RegExp(`resuming at byte ${starts[4]}`));
  assert.match(warnings[2]!.message, /resuming at byte \d+/, 'the end frame after the last batch is found again');
});

test('a future format version is refused with a clear message', { timeout: 10_000 }, async (t) => {
  const path = join(await tempDir(t), 'a.trace');
  await writeBatches(path, 2);
  const bytes = await readFile(path);
  bytes.writeUInt16LE(9, 8);
  await writeFile(path, bytes);
  await assert.rejects(
    readAll(path),
    (err: Error) =>
      err instanceof InputError &&
      /trace format version 9 is newer than this stickyscope reads \(1\); upgrade stickyscope/.test(err.message),
  );
});

test('files that are not traces are refused, naming what was found', { timeout: 10_000 }, async (t) => {
  const dir = await tempDir(t);
  const jsonl = join(dir, 'events.jsonl');
  await writeFile(jsonl, '{"type":"dnat","ts":"2026-11-23T12:11:05.123456Z"}\n');
  await assert.rejects(
    readAll(jsonl),
    (err: Error) =>
      err instanceof InputError &&
      err.message.startsWith('not a stickyscope trace') &&
      err.message.includes('found "{\\"type\\":'),
  );
  const empty = join(dir, 'empty');
  await writeFile(empty, '');
  await assert.rejects(
    readAll(empty),
    (err: Error) => err instanceof InputError && /not a stickyscope trace/.test(err.message),
  );
  await assert.rejects(
    readAll(join(dir, 'missing')),
    (err: Error) => err instanceof InputError && /failed to open trace/.test(err.message),
  );
});

test('random garbage after the preamble never crashes or hangs', { timeout: 20_000 }, async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'a.trace');
  const { batches, starts } = await writeBatches(path, 6);
  const good = await readFile(path);
  for (let seed = 1; seed <= 30; seed++) {
    const bytes = Buffer.from(good);
    let x = seed * 2654435761;
    const rand = () => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x / 2 ** 32;
    };
    const from = starts[1]!;
    for (let i = 0; i < 40; i++) bytes[from + Math.floor(rand() * (bytes.length - from))] = Math.floor(rand() * 256);
    await writeFile(path, bytes);
    const { events, warnings } = await readAll(path);
    assert.deepEqual(events.slice(0, batches[0]!.length), batches[0], `seed ${seed}: the intact first batch is read`);
    assert.ok(warnings.length > 0, `seed ${seed}: damage is reported`);
  }
});

test('rotation: FILE, FILE.1, ... hold the recording; reading FILE follows them, each segment stands alone', {
  timeout: 10_000,
}, async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'r.trace');
  const w = await TraceWriter.open(path, { rotateBytes: 8000 });
  const batches = Array.from({ length: 12 }, (_, b) => (b === 0 ? [catalog, ...batchOf(b, 50)] : batchOf(b, 50)));
  for (const b of batches) await w.append(b);
  await w.close();
  assert.ok(w.stats.files.length >= 3, `rotated into ${w.stats.files.join(', ')}`);
  assert.deepEqual(w.stats.files.slice(0, 3), [path, `${path}.1`, `${path}.2`]);
  for (const f of w.stats.files) assert.ok((await stat(f)).size < 8000 + 6000, `${f} near the rotation size`);
  const all = await readAll(path);
  assert.deepEqual(all.warnings, []);
  assert.deepEqual(all.events, batches.flat());
  // A later segment read on its own starts with the catalog in effect, then its own events.
  const one = await readAll(`${path}.1`, { followRotation: false });
  assert.deepEqual(one.warnings, []);
  assert.deepEqual(one.events[0], catalog);
  assert.ok(one.events.length > 1 && one.events.every((e, i) => i === 0 || e.type !== 'catalog'));
  // Losing a middle segment is reported, not fatal.
  await rm(`${path}.1`);
  const gap = await readAll(path);
  assert.deepEqual(
    gap.warnings.map((x) => x.kind),
    ['missing-segment'],
  );
});
