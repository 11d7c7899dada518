// open, close, traffic and sweep events (the live connections of issue 26) through every form they take: the wire
// (and so trace files), the JSON export, the check where events enter; and a trace written before they existed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StickyEvent } from '../../src/core/event.js';
import { eventFromJson, eventToJson, eventToText } from '../../src/core/event-json.js';
import { decodeBatch, encodeBatch } from '../../src/protocol/wire.js';
import { eventProblem } from '../../src/protocol/validate.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { readTrace } from '../../src/record/trace-reader.js';

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0) * 1000;
const S = 1e6;
const who = { node: 'n1', client: '10.0.1.2:39402', service: '10.96.0.10:80', backend: '10.1.3.2:8080' };
const v6 = { node: 'n1', client: '[fd00::2]:5000', service: '[fd00:96::10]:53', backend: '[fd00:1:3::2]:53' };
const counts = { origPackets: 3, origBytes: 200, replyPackets: 2, replyBytes: 2 ** 40 + 7 };

const live: StickyEvent[] = [
  { type: 'open', ts: T0, ...who, proto: 'tcp', tcpState: 'ESTABLISHED', start: T0 - 90 * S, seen: 'dump', ...counts },
  { type: 'open', ts: T0, ...v6, proto: 'udp', seen: 'dump', serviceName: 'kube-system/dns:dns', backendPod: 'dns-0' },
  { type: 'sweep', ts: T0 + 1, node: 'n1', initial: true, entries: 1200, open: 2, acct: true, micros: 1834 },
  {
    type: 'dnat',
    ts: T0 + S,
    ...who,
    client: '10.0.1.3:40000',
    proto: 'tcp',
    hook: 'prerouting',
    ctId: '00000000000000ff',
  },
  { type: 'traffic', ts: T0 + 10 * S, ...who, proto: 'tcp', tcpState: 'ESTABLISHED', ...counts, origBytes: 900 },
  {
    type: 'close',
    ts: T0 + 11 * S,
    ...who,
    proto: 'tcp',
    tcpState: 'TIME_WAIT',
    start: T0 - 90 * S,
    seen: 'destroy',
    ...counts,
  },
  { type: 'lost', ts: T0 + 12 * S, node: 'n1', count: 1, source: 'conntrack' },
  { type: 'close', ts: T0 + 20 * S, ...v6, proto: 'udp', seen: 'sweep', since: T0 + 10 * S },
  {
    type: 'open',
    ts: T0 + 20 * S,
    ...who,
    client: '10.0.1.4:40001',
    proto: 'tcp',
    tcpState: 'SYN_RECV',
    seen: 'sweep',
  },
];

test('open, close, traffic, sweep and conntrack lost come back from the wire as they went', () => {
  assert.deepEqual(decodeBatch(encodeBatch(live)), live);
});

test('they come back from a trace file as they went', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ss-live-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'live.trace');
  const w = await TraceWriter.open(path);
  await w.append(live);
  await w.close();
  const read: StickyEvent[] = [];
  for await (const batch of readTrace(path)) read.push(...batch);
  assert.deepEqual(read, live);
});

test('their JSON export reads back as the same events, times as ISO strings', () => {
  const json = live.map(eventToJson);
  assert.equal(json[0]!.start, '2026-12-07T11:58:30.000000Z');
  assert.equal(json[7]!.since, '2026-12-07T12:00:10.000000Z');
  assert.deepEqual(
    json.map((o) => eventFromJson(JSON.parse(JSON.stringify(o)))),
    live,
  );
});

test('each passes the check where events enter; its text line names what an SRE asks', () => {
  const now = T0 + 3600 * S;
  for (const e of live) assert.equal(eventProblem(e, now), null, JSON.stringify(e));
  assert.match(
    eventToText(live[0]!),
    /open +tcp +10\.0\.1\.2:39402 -> 10\.96\.0\.10:80 => 10\.1\.3\.2:8080 \[ESTABLISHED, age 90\.0s, out 3p\/200B/,
  );
  assert.match(eventToText(live[5]!), /close .*\[TIME_WAIT, lasted 101\.0s/);
  assert.match(eventToText(live[7]!), /close .*\[lasted unknown, seen by sweep\]/);
  assert.match(eventToText(live[2]!), /sweep +initial dump entries=1200 open=2/);
  assert.match(eventToText(live[6]!), /1 conntrack event socket overruns/);
});

test('malformed ones are refused with the field at fault', () => {
  const now = T0 + 3600 * S;
  const bad = (patch: Record<string, unknown>, base: StickyEvent = live[0]!) =>
    eventProblem({ ...base, ...patch }, now);
  assert.equal(bad({ seen: 'destroy' })?.field, 'seen', 'an open is seen by the dump or a sweep');
  assert.equal(bad({ tcpState: 'LISTENING' })?.field, 'tcpState');
  assert.equal(bad({ start: T0 + S })?.field, 'start', 'a connection cannot begin after the event');
  assert.equal(bad({ replyBytes: undefined })?.field, 'replyBytes', 'counters come all four or none');
  assert.equal(bad({ origBytes: -1 })?.reason, 'badCount');
  assert.equal(bad({ origBytes: 2 ** 60 })?.reason, 'badCount', 'past 2^53 a double is not exact');
  assert.equal(
    bad({ origBytes: undefined, origPackets: undefined, replyPackets: undefined, replyBytes: undefined }, live[4])
      ?.field,
    'origPackets',
    'traffic always has counters',
  );
  assert.equal(bad({ backend: '10.1.3.2' })?.reason, 'badAddress');
  assert.equal(bad({ source: 'ring' }, live[6])?.field, 'source');
  assert.equal(bad({ acct: 'yes' }, live[2])?.field, 'acct');
});

test('a trace written by stickyscope before these events existed still reads, whole', async () => {
  const path = fileURLToPath(new URL('../../../test/fixtures/traces/main-a291fe8.trace', import.meta.url));
  const warnings: string[] = [];
  const read: StickyEvent[] = [];
  for await (const batch of readTrace(path, { onWarning: (w) => warnings.push(w.message) })) read.push(...batch);
  assert.deepEqual(warnings, []);
  assert.deepEqual(
    read.map((e) => e.type),
    ['catalog', 'dnat', 'dnat', 'dnat', 'dnat', 'lost', 'counters'],
  );
  const T = Date.UTC(2026, 11, 7, 12, 0, 0) * 1000;
  assert.deepEqual(read[2], {
    type: 'dnat',
    ts: T + 2e5,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.2:40001',
    service: '10.96.0.10:80',
    backend: '10.1.2.2:8080',
    hook: 'prerouting',
    ctId: '00000000000000a1',
  });
  assert.deepEqual(read[5], { type: 'lost', ts: T + 6e5, node: 'n1', count: 2 });
});
