// docs/parquet.md's DuckDB answers on real traces: a two-node lab, one `record` per node's agent over mutual TLS, each
// trace exported to Parquet, docs/sql/*.sql run by DuckDB over the directory of exports. They must equal
// `stickyscope report` over the same traces, and the re-picked clients must be those whose backends' own answers
// moved: affinity is broken for real in the kernel, by flushing the nodes' xt_recent lists between requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, readBackendLogs, routeVia, runClient, type ClientResult, type Lab } from '../../src/lab/lab.js';
import type { Report } from '../../src/report/types.js';
import { startLabWithAgents, watchAgents } from '../helpers/agents.js';
import { runCli, startCli, type CliRun } from '../helpers/cli.js';
import { queryEvents, sqlFile } from '../helpers/duckdb.js';
import { requireRoot } from '../helpers/env.js';
import { waitFor, equals } from '../helpers/wait.js';

/** Empties every xt_recent list of node i: each client's next pick there is a fresh random one. */
function flushAffinity(lab: Lab, i: number): void {
  const ns = lab.nodes[i]!;
  const lists = execFileSync('ip', ['netns', 'exec', ns, 'ls', '/proc/net/xt_recent'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('KUBE-SEP-'));
  for (const l of lists) execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', `echo / > /proc/net/xt_recent/${l}`]);
}

/** Client IPs whose answers on the affinity Service changed from one request to the next (backends' own names). */
function movedClients(lab: Lab, results: ClientResult[]): string[] {
  const byClient = new Map<string, string[]>();
  for (const r of [...results].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0))) {
    assert.ok(r.answer, `${r.client} ${r.local}: ${r.error}`);
    byClient.set(r.client, [...(byClient.get(r.client) ?? []), r.answer]);
  }
  const ipOf = (name: string) => lab.clients.find((c) => c.name === name)!.ip;
  return [...byClient]
    .filter(([, seq]) => seq.some((b, i) => i > 0 && b !== seq[i - 1]))
    .map(([name]) => ipOf(name))
    .sort();
}

test('DuckDB over Parquet exports of each node answers spread and re-picked clients as the report and backends do', {
  timeout: 240_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const config = defaultConfig({ nodes: 2 });
  config.clients = 4;
  config.externalClients = 4;
  config.dualHomed = true;
  const { lab, agents } = await startLabWithAgents(t, config);
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-parquet-lab-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  // One recording per node, as on a cluster where each node's agent is recorded on its own.
  const recs: CliRun[] = agents.agents.map((a) =>
    startCli(['record', '--agent', a.address, '-w', join(dir, `${a.node}.trace`), ...agents.clientArgs()]),
  );
  t.after(() => {
    for (const r of recs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  });
  await Promise.all(recs.map((r, i) => r.waitFor(new RegExp(`\\(${agents.agents[i]!.node}\\) up`), 15_000)));
  const watch = await watchAgents(t, agents);
  const logged = (await readBackendLogs(lab)).length;

  // Pod clients reach the Services through node 0; external clients through node 1.
  const pods = lab.clients.filter((c) => !c.external).map((c) => c.name);
  const external = lab.clients.filter((c) => c.external).map((c) => c.name);
  for (const x of external) await routeVia(lab, x, 1);
  const sticky: ClientResult[] = [];
  const web = Promise.all([
    ...pods.map((c) => runClient(lab, c, { service: 'lab/web:http', mode: 'http', count: 40 })),
    ...external.map((c) => runClient(lab, c, { service: 'lab/web:http', mode: 'http', count: 10 })),
  ]);
  // Three rounds on the ClientIP Service (10 s timeout), every list flushed between them: the moves are violations.
  for (let round = 0; round < 3; round++) {
    if (round > 0) for (const i of [0, 1]) flushAffinity(lab, i);
    const runs = [...pods, ...external].map((c) =>
      runClient(lab, c, { service: 'lab/sticky:http', mode: 'http', count: 3 }),
    );
    sticky.push(...(await Promise.all(runs)).flat());
  }
  assert.deepEqual(
    (await web).flat().filter((r) => r.answer === null),
    [],
    'every web request is answered',
  );
  await watch.waitForDnat((await readBackendLogs(lab)).length - logged);
  await watch.stop();
  // Each recorder has had the same events on its own socket since then; two of its once-a-second progress lines
  // after this moment say its event loop has run past them (a SIGINT handled in the same turn as unread data drops it).
  const ticks = (r: CliRun) => r.stderr().split('\r').length;
  const seen = recs.map(ticks);
  await waitFor(
    'two progress lines from each recorder',
    () =>
      equals(
        recs.map((r, i) => ticks(r) >= seen[i]! + 2),
        recs.map(() => true),
      ),
    10_000,
    50,
  );
  for (const r of recs) r.child.kill('SIGINT');
  for (const r of recs) assert.equal((await r.exit).code, 0, r.stderr());

  const traces = agents.agents.map((a) => join(dir, `${a.node}.trace`));
  const parquetDir = join(dir, 'parquet');
  await mkdir(parquetDir);
  for (const trace of traces) {
    const out = join(parquetDir, `${trace.slice(dir.length + 1, -'.trace'.length)}.parquet`);
    const r = await runCli(['export', trace, '--format', 'parquet', '-w', out]);
    assert.equal(r.code, 0, r.stderr);
  }
  const [spread, violations, nodes] = await queryEvents(
    [join(parquetDir, '*.parquet')],
    [sqlFile('spread-per-service'), sqlFile('affinity-violations'), 'SELECT DISTINCT node FROM events ORDER BY node'],
  );
  assert.deepEqual(
    nodes!.map((r) => r.node),
    [...lab.nodes].sort(),
    'the exports hold both nodes',
  );

  const rep = await runCli(['report', ...traces]);
  assert.equal(rep.code, 0, rep.stderr);
  const report = JSON.parse(rep.stdout) as Report;

  // (a) Spread per Service: the same Services, selections, K and max/mean (within float rounding).
  const fromReport = report.services
    .filter((s) => s.spread.maxOverMean !== null)
    .map((s) => ({
      service: s.service,
      selections: s.selections,
      backends: s.backends.length,
      m: s.spread.maxOverMean!,
    }))
    // The report orders addresses numerically, the SQL as text.
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  const fromSql = spread!.map((r) => ({
    service: String(r.service),
    selections: Number(r.selections),
    backends: Number(r.backends),
    m: Number(r.maxOverMean),
  }));
  assert.deepEqual(
    fromSql.map(({ m: _m, ...rest }) => rest),
    fromReport.map(({ m: _m, ...rest }) => rest),
  );
  for (const [i, r] of fromSql.entries())
    assert.ok(Math.abs(r.m - fromReport[i]!.m) < 1e-9, `${r.service}: ${r.m} vs ${fromReport[i]!.m}`);
  assert.ok(
    fromSql.some((r) => r.service.startsWith(lab.services.find((s) => s.name === 'web')!.clusterIP)),
    'the web Service has a spread',
  );

  // (b) Re-picked clients: the SQL's, the report's and the backends' answers' are one set, and not empty.
  const stickyKey = `${lab.services.find((s) => s.name === 'sticky')!.clusterIP}:80/tcp`;
  const byClient = (a: [string, number], b: [string, number]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const sqlMoved = violations!
    .filter((r) => r.service === stickyKey)
    .map((r): [string, number] => [String(r.client), Number(r.violations)])
    .sort(byClient);
  const reportMoved = report.services
    .find((s) => s.service === stickyKey)!
    .clients.filter((c) => c.violations > 0)
    .map((c): [string, number] => [c.client, c.violations])
    .sort(byClient);
  assert.deepEqual(sqlMoved, reportMoved, 'the SQL and the report name the same clients, as often');
  assert.deepEqual(
    violations!.filter((r) => r.service !== stickyKey),
    [],
    'no violation on Services without affinity',
  );
  const truth = movedClients(lab, sticky);
  assert.ok(truth.length > 0, 'flushing the lists moved some client (all staying has probability under 1e-8)');
  assert.deepEqual(
    sqlMoved.map(([c]) => c),
    truth,
    'the re-picked clients are those whose backends changed',
  );
  t.diagnostic(`spread ${JSON.stringify(fromSql)}; re-picked ${JSON.stringify(sqlMoved)}`);
});
