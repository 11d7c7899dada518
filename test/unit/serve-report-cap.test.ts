// `serve`'s reports under load (issue 31 §3): with 5,000 Services, six concurrent
// /report.html requests get two reports (the default --max-report-builds 2) and four 503s
// with Retry-After at once, and /healthz keeps answering within a second while the reports
// build, /metrics in less than half a report's time (both used to wait 15-48 s behind the
// reports on serve's one thread).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, DnatEvent, ServiceInfo } from '../../src/core/event.js';
import { getServer } from '../../src/agent/server.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { sample, startServe, type ServeRun } from '../helpers/serve.js';
import { equals, NotYet, waitFor } from '../helpers/wait.js';

const N = 5000;
const CLIENTS = 2;
const svcAddr = (i: number) => `10.96.${i >> 8}.${i & 255}:80`;

/** serve following one fake agent that sent N Services and CLIENTS x 2 selections of each. */
async function bigServe(t: TestContext, args: string[]): Promise<{ serve: ServeRun; events: number }> {
  const source = new FakeSource();
  const agent = getServer(source, { node: 'node-a' });
  const address = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const serve = await startServe(t, ['--agent', address, ...args]);
  await waitFor('serve to subscribe', () => equals(agent.info().subscribers, 1), 10_000);
  const t0 = Date.now() * 1000;
  const services: ServiceInfo[] = Array.from({ length: N }, (_, i) => ({
    service: `${svcAddr(i)}/tcp`,
    name: `ns${i}/svc${i}:http`,
    affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
    endpoints: ['10.1.0.2:8080', '10.1.1.2:8080', '10.1.2.2:8080'],
  }));
  const catalog: CatalogEvent = { type: 'catalog', ts: t0, node: 'node-a', services };
  source.emitEvents([catalog]);
  const events: DnatEvent[] = [];
  for (let round = 0; round < 2; round++)
    for (let i = 0; i < N; i++)
      for (let c = 0; c < CLIENTS; c++)
        events.push(
          dnat(events.length, 'node-a', {
            ts: t0 + 1 + events.length,
            client: `10.0.${c}.2:${40000 + round}`,
            service: svcAddr(i),
            backend: `10.1.${events.length % 3}.2:8080`,
          }),
        );
  for (let i = 0; i < events.length; i += 5000) source.emitEvents(events.slice(i, i + 5000));
  // The flows, the catalog and serve's own `node up`.
  await waitFor(
    'every event to arrive',
    async () => {
      const n = sample((await serve.get('/metrics')).text, 'stickyscope_events_total');
      return n === events.length + 2 || new NotYet(n, events.length + 2);
    },
    30_000,
    100,
  );
  return { serve, events: events.length };
}

test('serve: six concurrent reports of 5,000 Services: two built, four 503 with Retry-After, /healthz within 1 s', {
  timeout: 120_000,
}, async (t) => {
  const { serve } = await bigServe(t, []);
  const started = Date.now();
  const requests = Array.from({ length: 6 }, () =>
    fetch(`${serve.url}/report.html?window=5m`).then(async (r) => ({
      status: r.status,
      retry: r.headers.get('retry-after'),
      // Bytes, not a string: decoding tens of megabytes here would stall this thread's own latency probes.
      body: Buffer.from(await r.arrayBuffer()),
      ms: Date.now() - started,
    })),
  );
  let settled = false;
  const all = Promise.all(requests).finally(() => (settled = true));
  const latencies: { path: string; ms: number }[] = [];
  while (!settled) {
    for (const path of ['/healthz', '/metrics']) {
      const t1 = Date.now();
      const r = await serve.get(path);
      assert.equal(r.status, 200, `${path}: ${r.text.slice(0, 200)}`);
      latencies.push({ path, ms: Date.now() - t1 });
    }
  }
  const answers = await all;
  const slowestOf = (path: string) => Math.max(...latencies.filter((l) => l.path === path).map((l) => l.ms));
  const slowest = { healthz: slowestOf('/healthz'), metrics: slowestOf('/metrics') };
  t.diagnostic(
    `reports: ${answers.map((a) => `${a.status} in ${a.ms} ms`).join(', ')}; ${latencies.length} health/metrics requests meanwhile, slowest /healthz ${slowest.healthz} ms, /metrics ${slowest.metrics} ms`,
  );
  const built = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status === 503);
  assert.equal(built.length, 2, `two reports built: ${answers.map((a) => a.status).join(', ')}`);
  assert.equal(refused.length, 4, 'four refused');
  for (const r of refused) {
    assert.equal(r.retry, '2', 'a 503 says when to retry');
    assert.match(r.body.toString(), /2 report\(s\) already being built \(serve --max-report-builds\)/);
  }
  for (const r of built) assert.ok(r.body.includes('ns4999/svc4999:http'), 'the report holds the last Service');
  assert.ok(latencies.length >= 2, 'health was asked while the reports were building');
  assert.ok(slowest.healthz < 1000, `/healthz answered in ${slowest.healthz} ms while reports built; expected < 1000`);
  // /metrics of 5,000 Services costs a few hundred ms of its own on a loaded machine: it must not wait for a report.
  const oneReport = Math.min(...built.map((r) => r.ms));
  assert.ok(
    slowest.metrics < oneReport / 2,
    `/metrics answered in ${slowest.metrics} ms while reports built; expected < half a report's ${oneReport} ms`,
  );

  // Once they are done, a report is built again, holding every Service the agent sent.
  const json = await serve.get('/report.json?window=all');
  assert.equal(json.status, 200, json.text.slice(0, 200));
  const report = JSON.parse(json.text) as { services: { selections: number }[] };
  assert.equal(report.services.length, N);
  assert.equal(
    report.services.reduce((n, s) => n + s.selections, 0),
    N * CLIENTS * 2,
  );
});
