// The Parquet export read back by DuckDB: a synthetic two-node recording (one trace per node) whose spread and
// affinity violations are worked out by hand below, answered by docs/sql/*.sql over the exports and by
// `stickyscope report` over the traces; both must give the hand-made answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLUSTER_NODE, type ServiceInfo, type StickyEvent } from '../../src/core/event.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import type { Report } from '../../src/report/types.js';
import { runCli } from '../helpers/cli.js';
import { queryEvents, sqlFile } from '../helpers/duckdb.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const S = 1e6;
const [A, B, C, D, E, F] = ['10.1.0.1:80', '10.1.0.2:80', '10.1.0.3:80', '10.1.0.4:80', '10.1.0.5:80', '10.1.0.6:80'];
const S1 = '10.96.0.1:80';
const S2 = '10.96.0.2:80';
const S3 = '10.96.0.3:80';

const svc = (addr: string, mode: 'ClientIP' | 'None', endpoints: string[], source: 'rules' | 'k8s' = 'rules') =>
  ({
    service: `${addr}/tcp`,
    name: `lab/${addr.slice(-4, -3)}:http`,
    affinity: { mode, timeoutSeconds: mode === 'ClientIP' ? 10 : null, source },
    endpoints,
  }) satisfies ServiceInfo;

const catalog = (t: number, node: string, services: ServiceInfo[]): StickyEvent => ({
  type: 'catalog',
  ts: T0 + t * S,
  node,
  services,
});

function dnat(t: number, node: string, client: string, service: string, backend: string): StickyEvent {
  return dnatEvent({
    ts: T0 + t * S,
    node,
    client: `${client}:40000`,
    service,
    backend,
    ctId: `${node}-${t}-${client}`,
  });
}

// S1: ClientIP 10 s over A, B, C; S2: no affinity over A, B and D (never picked); S3: only the API lists it.
const n1: StickyEvent[] = [
  catalog(0, 'n1', [svc(S1, 'ClientIP', [A, B, C]), svc(S2, 'None', [A, B, D])]),
  catalog(0, CLUSTER_NODE, [svc(S3, 'None', [E, F], 'k8s')]),
  dnat(1, 'n1', '10.0.0.1', S1, A),
  dnat(1, 'n1', '10.0.0.2', S1, C),
  dnat(1, 'n1', '10.0.0.5', S2, A),
  dnat(2, 'n1', '10.0.0.1', S1, A), // held
  dnat(2, 'n1', '10.0.0.3', S1, B), // first on n1 (its first pick was on n2): no pair
  dnat(2, 'n1', '10.0.0.5', S2, B), // no affinity: never a violation
  dnat(3, 'n1', '10.0.0.1', S1, B), // violation: A still listed, 1 s later
  dnat(4, 'n1', '10.0.0.7', S3, E),
  { type: 'lost', ts: T0 + 5 * S, node: 'n1', count: 3 },
  dnat(20, 'n1', '10.0.0.1', S1, B), // expired (gap 17 s), same backend
  dnat(30, 'n1', '10.0.0.2', S1, A), // expired and moved: not a violation
  dnat(35, 'n1', '10.0.0.4', S1, A),
  catalog(40, 'n1', [svc(S1, 'ClientIP', [B, C]), svc(S2, 'None', [A, B, D])]),
  dnat(41, 'n1', '10.0.0.4', S1, B), // forced re-pick: A is gone from n1's rules
];
const n2: StickyEvent[] = [
  catalog(0, 'n2', [svc(S1, 'ClientIP', [A, B, C])]),
  dnat(1, 'n2', '10.0.0.3', S1, A),
  dnat(5, 'n2', '10.0.0.6', S1, B),
  dnat(6, 'n2', '10.0.0.6', S1, C), // violation
  { type: 'node', ts: T0 + 7 * S, node: 'n2', state: 'down', reason: 'went away' },
];
// By hand: S1 picks A 5, B 5, C 2 over K = 3 (n1's latest rules B, C; n2's A, B, C): 5 / (12 / 3) = 1.25.
// S2: A 1, B 1, D 0: 1 / (2 / 3) = 1.5. S3: E 1, F 0 (the API's endpoints: no node lists it): 2.
const SPREAD = [
  { service: `${S1}/tcp`, selections: 12, backends: 3, maxOverMean: 1.25 },
  { service: `${S2}/tcp`, selections: 2, backends: 3, maxOverMean: 1.5 },
  { service: `${S3}/tcp`, selections: 1, backends: 2, maxOverMean: 2 },
];
const VIOLATIONS = [
  { service: `${S1}/tcp`, client: '10.0.0.1', violations: 1 },
  { service: `${S1}/tcp`, client: '10.0.0.6', violations: 1 },
];

async function writeTrace(path: string, events: StickyEvent[]): Promise<void> {
  const w = await TraceWriter.open(path);
  // One batch per event: the API's catalog (node "") must not share a batch with a node's events (docs/design.md).
  for (const e of events) await w.append([e]);
  await w.close();
}

async function exportParquet(trace: string, out: string): Promise<void> {
  const r = await runCli(['export', trace, '--format', 'parquet', '-w', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
}

/** The report's answers in the SQL's shape: Services with a spread, clients with violations. */
function reportAnswers(report: Report) {
  const spread = report.services
    .filter((s) => s.spread.maxOverMean !== null)
    .map((s) => ({
      service: s.service,
      selections: s.selections,
      backends: s.backends.length,
      maxOverMean: s.spread.maxOverMean,
    }));
  const violations = report.services.flatMap((s) =>
    s.clients
      .filter((c) => c.violations > 0)
      .map((c) => ({ service: s.service, client: c.client, violations: c.violations })),
  );
  return { spread, violations };
}

/** DuckDB's answers, numbers as numbers (counts come back as bigint). */
function plain(rows: Record<string, unknown>[], keys: string[]): Record<string, unknown>[] {
  return rows.map((r) => Object.fromEntries(keys.map((k) => [k, typeof r[k] === 'bigint' ? Number(r[k]) : r[k]])));
}

test('DuckDB over the Parquet exports of two nodes answers spread and violations as the report does', {
  timeout: 120_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-parquet-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeTrace(join(dir, 'n1.trace'), n1);
  await writeTrace(join(dir, 'n2.trace'), n2);
  await exportParquet(join(dir, 'n1.trace'), join(dir, 'n1.parquet'));
  await exportParquet(join(dir, 'n2.trace'), join(dir, 'n2.parquet'));

  const [spread, violations, counts] = await queryEvents(
    [join(dir, '*.parquet')],
    [
      sqlFile('spread-per-service'),
      sqlFile('affinity-violations'),
      'SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type',
    ],
  );
  assert.deepEqual(plain(spread!, ['service', 'selections', 'backends', 'maxOverMean']), SPREAD);
  assert.deepEqual(plain(violations!, ['service', 'client', 'violations']), VIOLATIONS);
  assert.deepEqual(plain(counts!, ['type', 'n']), [
    { type: 'catalog', n: 4 },
    { type: 'dnat', n: 15 },
    { type: 'lost', n: 1 },
    { type: 'node', n: 1 },
  ]);

  // The report over the same two traces (merged in time order) gives the same answers.
  const r = await runCli(['report', join(dir, 'n1.trace'), join(dir, 'n2.trace')]);
  assert.equal(r.code, 0, r.stderr);
  const fromReport = reportAnswers(JSON.parse(r.stdout) as Report);
  assert.deepEqual(fromReport.spread, SPREAD);
  assert.deepEqual(fromReport.violations, VIOLATIONS);
});

test('docs/parquet.md shows the SQL of docs/sql verbatim: what it shows is what the tests run', () => {
  const page = readFileSync(fileURLToPath(new URL('../../../docs/parquet.md', import.meta.url)), 'utf8');
  for (const name of ['spread-per-service', 'affinity-violations'])
    assert.ok(page.includes('```sql\n' + sqlFile(name) + '```'), `docs/parquet.md shows docs/sql/${name}.sql as it is`);
});
