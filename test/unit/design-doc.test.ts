// docs/design.md names every field the code writes (export format and report JSON): the names come from the code's
// real output for events exercising every feature, checked to carry every property the types declare, so a new field
// fails here until it is documented.
import { test } from 'node:test';
import { ServeHub } from '../../src/serve/hub.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@babel/parser';
import { CLUSTER_NODE, type StickyEvent } from '../../src/core/event.js';
import { eventToJson } from '../../src/core/event-json.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { readTrace } from '../../src/record/trace-reader.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { renderReport } from '../../src/report/from-file.js';
import { openOutputFile } from '../../src/export/output-file.js';
import { ParquetEventWriter } from '../../src/export/parquet-writer.js';
import { queryEvents } from '../helpers/duckdb.js';
import { dnatEvent } from '../helpers/events.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const design = readFileSync(join(root, 'docs/design.md'), 'utf8');

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const S = 1e6;
const [A, B, C] = ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'];
const [UA, UB] = ['10.1.1.2:3478', '10.1.2.2:3478'];
const STICKY = '10.96.0.11:80';
const EDGE1 = '10.3.0.1:31332';
const EDGE2 = '10.3.0.2:31332';
const STUN = '10.96.0.40:3478';

const sticky = (endpoints: string[]) => ({
  service: `${STICKY}/tcp`,
  name: 'lab/sticky:http',
  affinity: { mode: 'ClientIP' as const, timeoutSeconds: 10, source: 'rules' as const },
  endpoints,
  pods: { [A]: 'sticky-a', [B]: 'sticky-b', [C]: 'sticky-c' },
});
const edge = (addr: string) => ({
  service: `${addr}/tcp`,
  name: 'lab/edge:http',
  affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
  endpoints: [A, B],
});
/** A Service kube-proxy rejects on n1: it has no endpoints. */
const empty = {
  service: '10.96.0.46:80/tcp',
  name: 'lab/empty:http',
  affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
  endpoints: [],
  noEndpoints: 'reject' as const,
};
const stun = {
  service: `${STUN}/udp`,
  name: 'lab/stun:stun',
  affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
  endpoints: [UA, UB],
};

/** A dual-stack Service as the API lists it: one entry per family, its pod named in both. */
const cart = ['10.96.0.50:80/tcp', '[fd00:96::50]:80/tcp'].map((service, i) => {
  const endpoint = i === 0 ? '10.1.5.2:8080' : '[fd00:1:5::2]:8080';
  return {
    service,
    name: 'lab/cart:http',
    affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'k8s' as const },
    endpoints: [endpoint],
    pods: { [endpoint]: 'lab/cart-0' },
  };
});

function dnat(ts: number, node: string, client: string, service: string, backend: string, ctId = `${ts}`): StickyEvent {
  return dnatEvent({
    ts,
    node,
    proto: service === STUN ? 'udp' : 'tcp',
    client,
    service,
    backend,
    ctId,
    serviceName: 'named by the agent',
    backendPod: 'pod by the agent',
  });
}

/**
 * Every event type, and selections that give every verdict and feature: a held pair, a
 * violation nothing explains (unknown), one an eviction explains (listFull), one a full nftables affinity set
 * explains (setFull, with the sets' fill on that node), a forced
 * re-pick, an expired pair that moved, a client diverging across nodes (through one
 * address, and through two NodePort addresses), a UDP entry replaced with a new backend
 * and a new reflective address, lost events, a node gap and a node still down.
 */
const events: StickyEvent[] = [
  {
    type: 'catalog',
    ts: T0,
    node: 'n1',
    proxyMode: 'iptables',
    services: [sticky([A, B, C]), edge(EDGE1), stun, empty],
  },
  { type: 'catalog', ts: T0, node: 'n2', proxyMode: 'nftables', services: [sticky([A, B, C]), edge(EDGE2)] },
  {
    type: 'catalog',
    ts: T0,
    node: CLUSTER_NODE,
    services: [{ ...edge(EDGE1), affinity: { ...edge(EDGE1).affinity, source: 'k8s' } }, ...cart],
  },
  dnat(T0 + 1 * S, 'n1', '10.0.1.1:40000', STICKY, A),
  dnat(T0 + 1 * S, 'n1', '10.0.1.2:40000', STICKY, A),
  dnat(T0 + 1 * S, 'n1', '10.0.1.3:40000', STICKY, A),
  dnat(T0 + 1 * S, 'n1', '10.0.1.4:40000', STICKY, C),
  dnat(T0 + 1 * S, 'n1', '10.0.1.5:40000', EDGE1, A),
  dnat(T0 + 1 * S, 'n2', '10.0.1.5:40001', EDGE2, B),
  dnat(T0 + 1 * S, 'n1', '10.0.1.6:5000', STUN, UA, 'u1'),
  {
    type: 'snat',
    ts: T0 + 1 * S,
    node: 'n1',
    proto: 'udp',
    client: '10.0.1.6:5000',
    service: STUN,
    backend: UA,
    hook: 'postrouting',
    ctId: 'u1',
    snat: '10.1.1.1:6000',
  },
  {
    type: 'insert',
    ts: T0 + 1 * S,
    node: 'n1',
    proto: 'udp',
    client: '10.0.1.6:5000',
    service: STUN,
    backend: UA,
    hook: 'postrouting',
    ctId: 'u1',
  },
  dnat(T0 + 1 * S, 'n2', '10.0.1.7:40000', STICKY, C),
  {
    type: 'evicted',
    ts: T0 + 1.25 * S,
    since: T0 + 1 * S,
    node: 'n2',
    list: 'affinity-CCCCCCCC-lab/sticky/tcp/http__10.1.3.2/8080',
    endpoint: C,
    client: '10.0.1.7',
    capacity: 2,
    cause: 'setFull',
  },
  {
    type: 'affinitySets',
    ts: T0 + 1.25 * S,
    node: 'n2',
    sets: [
      {
        set: 'affinity-CCCCCCCC-lab/sticky/tcp/http__10.1.3.2/8080',
        service: `${STICKY}/tcp`,
        endpoint: C,
        elements: 2,
        size: 2,
      },
    ],
  },
  dnat(T0 + 1.5 * S, 'n2', '10.0.1.7:40001', STICKY, A),
  dnat(T0 + 2 * S, 'n1', '10.0.1.1:40001', STICKY, A),
  {
    type: 'evicted',
    ts: T0 + 2 * S,
    since: T0 + 1.5 * S,
    node: 'n1',
    list: 'KUBE-SEP-AAAA',
    endpoint: A,
    client: '10.0.1.2',
    capacity: 100,
  },
  dnat(T0 + 2.5 * S, 'n1', '10.0.1.2:40001', STICKY, C),
  dnat(T0 + 3 * S, 'n1', '10.0.1.1:40002', STICKY, B),
  dnat(T0 + 3.5 * S, 'n2', '10.0.1.1:40003', STICKY, C),
  { type: 'catalog', ts: T0 + 4 * S, node: 'n1', services: [sticky([A, B]), edge(EDGE1), stun, empty] },
  dnat(T0 + 5 * S, 'n1', '10.0.1.4:40001', STICKY, A),
  dnat(T0 + 6 * S, 'n1', '10.0.1.6:5000', STUN, UB, 'u2'),
  {
    type: 'snat',
    ts: T0 + 6 * S,
    node: 'n1',
    proto: 'udp',
    client: '10.0.1.6:5000',
    service: STUN,
    backend: UB,
    hook: 'postrouting',
    ctId: 'u2',
    snat: '10.1.1.1:6001',
  },
  { type: 'lost', ts: T0 + 7 * S, node: 'n1', count: 3 },
  { type: 'lost', ts: T0 + 7 * S, node: 'n1', count: 1, source: 'conntrack' },
  {
    type: 'open',
    ts: T0 + 7 * S,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.9:41000',
    service: STICKY,
    backend: B,
    tcpState: 'ESTABLISHED',
    start: T0 - 60 * S,
    seen: 'dump',
    origPackets: 10,
    origBytes: 1000,
    replyPackets: 8,
    replyBytes: 64000,
    serviceName: 'named by the agent',
    backendPod: 'pod by the agent',
  },
  { type: 'sweep', ts: T0 + 7 * S, node: 'n1', initial: true, entries: 40, open: 1, acct: true, micros: 900 },
  {
    type: 'traffic',
    ts: T0 + 8 * S,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.9:41000',
    service: STICKY,
    backend: B,
    tcpState: 'ESTABLISHED',
    origPackets: 12,
    origBytes: 1200,
    replyPackets: 9,
    replyBytes: 72000,
  },
  {
    type: 'close',
    ts: T0 + 9 * S,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.9:41000',
    service: STICKY,
    backend: B,
    seen: 'sweep',
    since: T0 + 8 * S,
  },
  {
    type: 'open',
    ts: T0 + 9 * S,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.8:41001',
    service: STICKY,
    backend: A,
    tcpState: 'ESTABLISHED',
    seen: 'sweep',
  },
  // A fourth endpoint joins while that connection is open: it predates the newest endpoint.
  {
    type: 'catalog',
    ts: T0 + 10 * S,
    node: 'n1',
    services: [sticky([A, B, C, '10.1.4.2:8080']), edge(EDGE1), stun, empty],
  },
  { type: 'counters', ts: T0 + 7 * S, node: 'n1', insertFailed: 1, drop: 2, earlyDrop: 3, entries: 40 },
  { type: 'rulesRead', ts: T0 + 7 * S, node: 'n3', readAt: T0 + 6 * S },
  { type: 'node', ts: T0 + 8 * S, node: 'n2', state: 'down', reason: 'stream from n2 failed: connection reset' },
  { type: 'node', ts: T0 + 9 * S, node: 'n2', state: 'up' },
  { type: 'node', ts: T0 + 12 * S, node: 'n2', state: 'down', reason: 'agent n2 ended the stream' },
  dnat(T0 + 14 * S, 'n1', '[fd00:0:1::5]:40000', '[fd00:96::50]:80', '[fd00:1:5::2]:8080'),
  dnat(T0 + 15 * S, 'n1', '10.0.1.3:40001', STICKY, B),
];

/** Objects keyed by data (addresses, node names), not by field names: their keys are not fields. */
const KEYED_BY_DATA = new Set(['pods', 'backends', 'via', 'liveBackends', 'bytes']);

/** Every field name in a JSON value, at any depth. */
function fieldsOf(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) fieldsOf(v, into);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      into.add(k);
      if (KEYED_BY_DATA.has(k) && !Array.isArray(v))
        for (const inner of Object.values(v as object)) fieldsOf(inner, into);
      else fieldsOf(v, into);
    }
  }
  return into;
}

/** Property names declared by the interfaces and object types of a source file. */
function declaredProperties(path: string): Set<string> {
  const ast = parse(readFileSync(join(root, path), 'utf8'), { sourceType: 'module', plugins: ['typescript'] });
  const out = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const n = node as { type?: string; key?: { type?: string; name?: string; value?: string } };
    if (n.type === 'TSPropertySignature' && n.key) out.add(n.key.name ?? n.key.value ?? '');
    for (const [k, v] of Object.entries(node))
      if (k !== 'loc' && k !== 'leadingComments' && k !== 'trailingComments') visit(v);
  };
  visit(ast.program);
  return out;
}

/** The text of the design's sections whose heading matches, up to the next heading of that level. */
function section(heading: RegExp): string {
  const parts = design.split(/^(?=## )/m);
  const found = parts.filter((p) => heading.test(p.split('\n', 1)[0]!));
  assert.ok(found.length > 0, `docs/design.md has no section whose heading matches ${heading}`);
  return found.join('\n');
}

/** Names of `fields` the text does not write as code (`name`) or as a JSON key ("name"). */
function undocumented(fields: Iterable<string>, text: string): string[] {
  return [...fields].filter((f) => !text.includes(`\`${f}\``) && !text.includes(`"${f}"`)).sort();
}

async function exportLines(): Promise<Record<string, unknown>[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ss-design-'));
  try {
    const path = join(dir, 'fixture.trace');
    const writer = await TraceWriter.open(path);
    // One batch per event: a batch names one node for all its events, and the API's catalog is no node.
    for (const e of events) await writer.append([e]);
    await writer.close();
    const out: Record<string, unknown>[] = [];
    for await (const batch of readTrace(path)) for (const e of batch) out.push(eventToJson(e));
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('every field of the export format is in docs/design.md', async () => {
  // `export` reads a trace file; `trace --format jsonl` prints the probe's events as they are.
  const lines = [...(await exportLines()), ...events.map(eventToJson)];
  const fields = fieldsOf(lines);
  const missingFromOutput = [...declaredProperties('src/core/event.ts')].filter((f) => !fields.has(f));
  assert.deepEqual(missingFromOutput, [], 'the fixture exercises every property src/core/event.ts declares');
  const types = new Set(lines.map((l) => String(l.type)));
  assert.equal(types.size, 14, `every event type is exported, got ${[...types].join(', ')}`);
  const text = section(/export format/i);
  assert.deepEqual(undocumented(fields, text), [], 'export fields the design does not name');
  assert.deepEqual(undocumented(types, text), [], 'event types the design does not name');
});

test('every field of the report JSON is in docs/design.md', () => {
  const fields = new Set<string>();
  for (const scope of ['window', 'cumulative'] as const) {
    const state = createState({ windowSeconds: 60, causeHorizonSeconds: 1 });
    applyEvents(state, events);
    const built = buildReport(state, { scope });
    // What `serve` adds to the reports it serves (src/serve/http.ts).
    built.metrics = { maxServices: 100, servicesOmitted: 0 };
    // What rendering adds: the command line and the findings.
    const report = JSON.parse(renderReport(built, { format: 'json', timeline: null, command: 'stickyscope report x' }));
    fieldsOf(report, fields);
    const sticky = report.services.find((s: { name: string }) => s.name === 'lab/sticky:http');
    const v = sticky.affinityVerdicts;
    assert.deepEqual(
      [
        v.held,
        v.violation,
        v.forcedRepick,
        v.expired,
        v.expiredMoved,
        v.violationCauses.listFull,
        v.violationCauses.setFull,
        v.violationCauses.unknown,
      ],
      [1, 3, 1, 1, 1, 1, 1, 1],
      `${scope}: the fixture gives every verdict and cause`,
    );
    const stun = report.services.find((s: { name: string }) => s.name === 'lab/stun:stun');
    assert.deepEqual(stun.udpContinuity, { replacements: 1, backendChanged: 1, reflectiveChanged: 1 }, scope);
    assert.equal(report.window.missing.length, 2, `${scope}: a closed gap and an ongoing one`);
  }
  // What a report made from the agents' summaries adds (serve --summaries, report --summaries).
  const hub = new ServeHub({ windows: [60], summaries: true });
  for (const node of new Set(events.map((e) => e.node))) hub.summariseRaw(node);
  hub.apply(events);
  hub.takeRawSummaries();
  const fromSummaries = JSON.parse(JSON.stringify(hub.report('all')));
  assert.ok(fromSummaries.summaries.received > 0, 'the summaries were taken');
  fieldsOf(fromSummaries, fields);
  const declared = new Set([...declaredProperties('src/report/types.ts'), 'mode', 'timeoutSeconds', 'source']);
  const missingFromOutput = [...declared].filter((f) => !fields.has(f));
  assert.deepEqual(missingFromOutput, [], 'the fixture exercises every property src/report/types.ts declares');
  assert.deepEqual(undocumented(fields, section(/report JSON/i)), [], 'report fields the design does not name');
});

test('every column of the Parquet export is in docs/design.md, and the fixture fills each', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ss-design-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'fixture.parquet');
  const out = await openOutputFile(path, 'write Parquet to');
  const w = new ParquetEventWriter(out);
  await w.add(events, 'fixture.trace');
  await w.finish();
  await out.commit();
  // The columns as a reader sees them in the file, and how many rows fill each.
  const [described] = await queryEvents([path], ['DESCRIBE events']);
  const columns = described!.map((r) => String(r.column_name));
  const [filled] = await queryEvents(
    [path],
    [`SELECT ${columns.map((c) => `count("${c}") AS "${c}"`).join(', ')} FROM events`],
  );
  const empty = columns.filter((c) => Number(filled![0]![c]) === 0);
  assert.deepEqual(empty, [], 'columns no event of the fixture fills');
  assert.deepEqual(undocumented(columns, section(/Parquet export/i)), [], 'Parquet columns the design does not name');
});
