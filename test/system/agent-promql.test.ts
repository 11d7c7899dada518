// The must-show of cluster scale: on a two-node lab, a real Prometheus scraping both agents'
// summable series gives, through PromQL alone, the spread and stickiness per Service that
// the aggregator's JSON report gives for the same traffic (within 1%; every count exactly),
// and the per-backend counts the backends logged. `serve --summaries` on the same agents,
// over their mutual TLS, counts the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents, startReportCli } from '../helpers/agents.js';
import { havePrometheus, startPrometheus, type Prometheus } from '../helpers/prometheus.js';
import { startServe } from '../helpers/serve.js';
import { defaultConfig, readBackendLogs, routeVia, runClient, type Lab } from '../../src/lab/lab.js';
import type { ServiceReport } from '../../src/report/types.js';

const PODS = ['c1', 'c2', 'c3'];
const EXTERNAL = ['x1', 'x2', 'x3', 'x4'];

/** Backend selections per endpoint, "ip:port" as reports name them, from the backends' own logs. */
async function logged(lab: Lab): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const l of await readBackendLogs(lab)) if (l.proto === 'tcp') out[l.local] = (out[l.local] ?? 0) + 1;
  return out;
}

const byLabel = (rows: { labels: Record<string, string>; value: number }[], label: string) =>
  Object.fromEntries(rows.map((r) => [r.labels[label]!, r.value]));

/** One value per Service address from a PromQL expression grouped by address. */
async function perService(prom: Prometheus, expr: string): Promise<Record<string, number>> {
  return byLabel(await prom.query(expr), 'address');
}

const near = (a: number, b: number) => Math.abs(a - b) <= 0.01 * Math.abs(b);

test('PromQL over the agents equals the JSON report: spread and stickiness per Service', {
  timeout: 300_000,
}, async (t) => {
  if (!requireRoot(t) || !havePrometheus(t)) return;
  const config = defaultConfig({ nodes: 2 });
  config.clients = PODS.length;
  config.externalClients = EXTERNAL.length;
  config.dualHomed = true;
  const sticky = config.services.find((s) => s.name === 'sticky')!;
  // External clients reach this one through either node: each node's counts are part of it.
  config.services.push({ ...structuredClone(sticky), name: 'sticky-ext', clusterIP: '10.96.0.14', timeoutSeconds: 60 });
  const { lab, agents } = await startLabWithAgents(t, config, { metrics: true });
  const [a0, a1] = agents.agents;
  const serve = await startServe(t, [
    '--summaries',
    '--window',
    '1h',
    ...agents.addresses().flatMap((a) => ['--agent', a]),
    ...agents.clientArgs(),
  ]);
  const prom = await startPrometheus(t, {
    agent0: a0!.metrics!,
    agent1: a1!.metrics!,
    serve: serve.url.slice('http://'.length),
  });
  await prom.until('up', (r) => r.length === 3 && r.every((s) => s.value === 1));
  await prom.until('stickyscope_summary_nodes', (r) => r[0]?.value === 2);
  const report = await startReportCli(t, agents);
  const before = await logged(lab);

  await Promise.all(PODS.map((c) => runClient(lab, c, { service: 'lab/web:http', mode: 'http', count: 40 })));
  await Promise.all(PODS.map((c) => runClient(lab, c, { service: 'lab/sticky:http', mode: 'http', count: 15 })));
  for (const client of EXTERNAL) {
    for (const node of [1, 0]) {
      await routeVia(lab, client, node);
      await runClient(lab, client, { service: 'lab/sticky-ext:http', mode: 'http', count: 5 });
      await runClient(lab, client, { service: 'lab/web:http', mode: 'http', count: 5 });
    }
  }
  const after = await logged(lab);
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  await report.waitForDnat(sum(after) - sum(before));
  const r = await report.finish();
  assert.equal(r.lostEvents, 0);

  // The truth of the backends: what they logged during the traffic, summed over Services.
  const truth: Record<string, number> = {};
  for (const [ep, n] of Object.entries(after)) if (n > (before[ep] ?? 0)) truth[ep] = n - (before[ep] ?? 0);
  const expected = Object.values(truth).reduce((a, b) => a + b, 0);
  const total = 'sum(stickyscope_node_backend_selections_total)';
  await prom.until(total, (x) => x[0]?.value === expected, 20_000);
  const perBackend = byLabel(
    await prom.query('sum by (backend) (stickyscope_node_backend_selections_total) > 0'),
    'backend',
  );
  assert.deepEqual(perBackend, truth, "the agents' per-backend sums vs the backends' logs");

  const sel = 'stickyscope_node_backend_selections_total';
  const spread = await perService(
    prom,
    `max by (address) (sum by (address, backend) (${sel})) / avg by (address) (sum by (address, backend) (${sel}))`,
  );
  const stickiness = await perService(
    prom,
    'sum by (address) (stickyscope_node_consecutive_selections_kept_backend_total) / sum by (address) (stickyscope_node_consecutive_selections_total)',
  );
  const pairs = await perService(prom, 'sum by (address) (stickyscope_node_consecutive_selections_total)');
  const kept = await perService(prom, 'sum by (address) (stickyscope_node_consecutive_selections_kept_backend_total)');
  const active = r.services.filter((s) => s.selections > 0);
  assert.ok(active.length >= 3, `web, sticky and sticky-ext were selected: ${active.map((s) => s.name).join(', ')}`);
  const twoNodes = active.find((s) => s.name === 'lab/sticky-ext:http') as ServiceReport;
  assert.ok(twoNodes, 'the Service reached through both nodes is in the report');
  for (const s of active) {
    const key = s.service;
    const q = (m: string, by: string) =>
      prom.query(`sum by (${by}) (${m}{address=${JSON.stringify(key)}})`).then((x) => byLabel(x, by));
    assert.deepEqual(
      await q(sel, 'backend'),
      Object.fromEntries(s.backends.map((b) => [b.backend, b.selections])),
      `${s.name}: per-backend counts, zeros included`,
    );
    assert.equal(pairs[key], s.stickiness.pairs, `${s.name}: consecutive picks`);
    assert.equal(kept[key], s.stickiness.sameBackend, `${s.name}: consecutive picks that kept the backend`);
    assert.ok(near(spread[key]!, s.spread.maxOverMean!), `${s.name}: spread ${spread[key]} vs ${s.spread.maxOverMean}`);
    if (s.stickiness.ratio !== null)
      assert.ok(
        near(stickiness[key]!, s.stickiness.ratio),
        `${s.name}: stickiness ${stickiness[key]} vs ${s.stickiness.ratio}`,
      );
    const v = s.affinityVerdicts;
    assert.deepEqual(
      await q('stickyscope_node_affinity_verdicts_total', 'verdict'),
      { held: v.held, violation: v.violation, forcedRepick: v.forcedRepick, expired: v.expired },
      `${s.name}: verdicts`,
    );
    assert.deepEqual(
      await q('stickyscope_node_affinity_violations_total', 'cause'),
      v.violationCauses,
      `${s.name}: causes`,
    );
    // serve --summaries: the same counts from the summary streams.
    await prom.until(
      `sum(stickyscope_backend_selections_total{job="serve",address=${JSON.stringify(key)}})`,
      (x) => x[0]?.value === s.selections,
      15_000,
    );
    const fromServe = await prom.query(
      `stickyscope_service_stickiness_ratio{job="serve",address=${JSON.stringify(key)}}`,
    );
    if (s.stickiness.ratio !== null)
      assert.ok(near(fromServe[0]!.value, s.stickiness.ratio), `${s.name}: serve's stickiness`);
  }
  const nodesOf = await prom.query(
    `count by (address) (sum by (address, node) (stickyscope_node_backend_selections_total{address="${twoNodes.service}"}) > 0)`,
  );
  assert.equal(nodesOf[0]?.value, 2, 'sticky-ext was selected on both nodes: the sums really add two nodes');
  t.diagnostic(
    active
      .map(
        (s) =>
          `${s.name}: ${s.selections} sel, spread ${spread[s.service]!.toFixed(3)} (report ${s.spread.maxOverMean!.toFixed(3)}), stickiness ${stickiness[s.service]?.toFixed(3)} (report ${s.stickiness.ratio?.toFixed(3)})`,
      )
      .join('; '),
  );
});
