// A real Prometheus scrapes a lab agent's /metrics and `serve`'s, and what it stores is
// checked against the backends' own logs and against serve's JSON report of the same
// span: selections per backend, stickiness, affinity verdicts and violations by cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents } from '../helpers/agents.js';
import { havePrometheus, startPrometheus } from '../helpers/prometheus.js';
import { startServe } from '../helpers/serve.js';
import { defaultConfig, readBackendLogs, runClient, type Lab } from '../../src/lab/lab.js';
import type { Report, ServiceReport } from '../../src/report/types.js';
import { NotYet, waitFor } from '../helpers/wait.js';

const CLIENTS = ['c1', 'c2', 'c3'];
const WEB = 60;
const STICKY = 20;

function serviceOf(r: Report, name: string): ServiceReport {
  const s = r.services.find((x) => x.name === name);
  assert.ok(s, `report has ${name}`);
  return s;
}

/** Connections each backend endpoint ("ip:port", as reports name them) logged so far. */
async function logged(lab: Lab): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const l of await readBackendLogs(lab)) if (l.proto === 'tcp') out[l.local] = (out[l.local] ?? 0) + 1;
  return out;
}

function minus(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(a).flatMap(([k, n]) => (n - (b[k] ?? 0) > 0 ? [[k, n - (b[k] ?? 0)]] : [])));
}

test('prometheus scrapes an agent and serve: series match the JSON report and the backend logs', {
  timeout: 240_000,
}, async (t) => {
  if (!requireRoot(t) || !havePrometheus(t)) return;
  const config = defaultConfig();
  config.clients = CLIENTS.length;
  const { lab, agents } = await startLabWithAgents(t, config, { metrics: true });
  const agent = agents.agents[0]!;
  // One window longer than the test: its gauges and the counters cover the same span.
  // Over the lab's mutual TLS, as the agents serve it.
  const serve = await startServe(t, ['--agent', agent.address, '--window', '1h', ...agents.clientArgs()]);
  await serve.run.waitFor(/agent .* up/);
  const prom = await startPrometheus(t, { agent: agent.metrics!, serve: serve.url.slice('http://'.length) });
  await prom.until('up', (r) => r.length === 2 && r.every((s) => s.value === 1));

  const runAll = (service: string, count: number) =>
    Promise.all(CLIENTS.map((c) => runClient(lab, c, { service, mode: 'http', count })));
  // Both Services share the backends: the logs of each run, one after the other, are its truth.
  const before = await logged(lab);
  await runAll('lab/web:http', WEB);
  const afterWeb = await logged(lab);
  await runAll('lab/sticky:http', STICKY);
  const truths: Record<string, Record<string, number>> = {
    'lab/web:http': minus(afterWeb, before),
    'lab/sticky:http': minus(await logged(lab), afterWeb),
  };
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  const selections = (r: Report) => Object.fromEntries(r.services.map((x) => [x.name, x.selections]));
  const report = await waitFor(
    "serve's report to hold every connection the backends logged",
    async () => {
      const r = JSON.parse((await serve.get('/report.json?window=1h')).text) as Report;
      const seen = selections(r);
      const want = {
        'lab/web:http': total(truths['lab/web:http']!),
        'lab/sticky:http': total(truths['lab/sticky:http']!),
      };
      return (
        (seen['lab/web:http'] === want['lab/web:http'] && seen['lab/sticky:http'] === want['lab/sticky:http'] && r) ||
        new NotYet(seen, want)
      );
    },
    15_000,
    100,
  );
  const all = JSON.parse((await serve.get('/report.json?window=all')).text) as Report;
  for (const name of ['lab/web:http', 'lab/sticky:http']) {
    const r = serviceOf(report, name);
    const truth = truths[name]!;
    const counts = Object.fromEntries(r.backends.filter((b) => b.selections > 0).map((b) => [b.backend, b.selections]));
    assert.deepEqual(counts, truth, `${name}: the report vs the backends' logs`);
    assert.equal(serviceOf(all, name).selections, r.selections, `${name}: the 1h window holds everything`);
    const q = (m: string) => `${m}{service=${JSON.stringify(name)}}`;
    await prom.until(q('stickyscope_service_selections_total'), (x) => x.length === 1 && x[0]!.value === r.selections);
    const perBackend = await prom.until(
      q('stickyscope_backend_selections_total'),
      (x) => x.reduce((n, s) => n + s.value, 0) === r.selections,
    );
    assert.deepEqual(
      Object.fromEntries(perBackend.filter((s) => s.value > 0).map((s) => [s.labels.backend, s.value])),
      truth,
      `${name}: Prometheus' per-backend selections vs the backends' logs`,
    );
    const [sticky] = await prom.query(q('stickyscope_service_stickiness_ratio'));
    assert.ok(sticky, `${name}: stickiness stored`);
    assert.ok(
      Math.abs(sticky.value - r.stickiness.ratio!) < 1e-9,
      `${name}: stickiness ${sticky.value} vs ${r.stickiness.ratio}`,
    );
    const [baseline] = await prom.query(q('stickyscope_service_stickiness_random_ratio'));
    assert.equal(baseline?.value, r.stickiness.expectedRandom);
    const verdicts = Object.fromEntries(
      (await prom.query(q('stickyscope_service_affinity_verdicts_total'))).map((s) => [s.labels.verdict, s.value]),
    );
    const v = r.affinityVerdicts;
    assert.deepEqual(
      verdicts,
      { held: v.held, violation: v.violation, forcedRepick: v.forcedRepick, expired: v.expired },
      name,
    );
    const causes = Object.fromEntries(
      (await prom.query(q('stickyscope_service_affinity_violations_total'))).map((s) => [s.labels.cause, s.value]),
    );
    assert.deepEqual(causes, v.violationCauses, `${name}: violations by cause`);
  }
  // ClientIP affinity held for every client: each one's picks after the first.
  assert.equal(serviceOf(report, 'lab/sticky:http').affinityVerdicts.held, CLIENTS.length * (STICKY - 1));

  // The agent's own counters: one dnat record per connection the backends logged.
  const lines = (await readBackendLogs(lab)).length;
  await prom.until('stickyscope_agent_records_total{type="dnat"}', (x) => x.length === 1 && x[0]!.value === lines);
  const [lost] = await prom.query('stickyscope_agent_ring_buffer_lost_records_total');
  assert.equal(lost?.value, 0);
  const fill = await prom.query('stickyscope_affinity_list_fill_ratio');
  assert.ok(fill.length > 0 && fill.every((s) => s.value >= 0 && s.value <= 1), `fill ratios ${JSON.stringify(fill)}`);
  const [agentUp] = await prom.query(`stickyscope_agent_up{agent=${JSON.stringify(agent.address)}}`);
  assert.equal(agentUp?.value, 1);
  t.diagnostic(`${lines} connections; ${report.services.map((s) => `${s.name} ${s.selections}`).join(', ')}`);
});
