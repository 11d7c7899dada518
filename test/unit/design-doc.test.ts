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
import { eventToJson } from '../../src/core/event-json.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { readTrace } from '../../src/record/trace-reader.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { renderReport } from '../../src/report/from-file.js';
import { openOutputFile } from '../../src/export/output-file.js';
import { ParquetEventWriter } from '../../src/export/parquet-writer.js';
import { queryEvents } from '../helpers/duckdb.js';

import { events } from '../helpers/design-fixture.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const design = readFileSync(join(root, 'docs/design.md'), 'utf8');

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
