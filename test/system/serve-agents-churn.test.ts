// Agents coming and going while `serve` runs on a two-node lab: node 2's agent starts
// after serve (named in advance, retried), and its selections, counted by the
// backends' logs, appear in /metrics and /report.json within 5 s; node 1's agent is
// killed and shows down, with its missing window in the report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { requireRoot } from '../helpers/env.js';
import { startAgents } from '../helpers/agents.js';
import { startLab } from '../helpers/lab-fixture.js';
import { sample, startServe } from '../helpers/serve.js';
import { defaultConfig, readBackendLogs, routeVia, runClient } from '../../src/lab/lab.js';
import type { Report } from '../../src/report/types.js';
import { waitFor, equals, NotYet } from '../helpers/wait.js';

const REQUESTS = 30;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('serve follows an agent that starts late and one that is killed', { timeout: 180_000 }, async (t) => {
  if (!requireRoot(t)) return;
  const config = defaultConfig({ nodes: 2 });
  config.externalClients = 1;
  config.dualHomed = true;
  const lab = await startLab(t, config);
  const late = `127.0.0.1:${await freePort()}`;
  const first = await startAgents(t, lab, [0]);
  // Over the lab's mutual TLS: the late agent is expected to be node 2 by its certificate.
  const serve = await startServe(t, [
    '--agent',
    first.agents[0]!.address,
    '--agent',
    late,
    '--window',
    '1h',
    ...first.clientArgs(),
  ]);
  await serve.run.waitFor(new RegExp(`agent .* \\(${lab.nodes[0]}\\) up`));
  assert.equal((await serve.get('/readyz')).status, 503, 'not ready while the second agent was never reached');

  const second = await startAgents(t, lab, [1], { listen: { 1: late } });
  const node2 = lab.nodes[1]!;
  await serve.run.waitFor(new RegExp(`agent ${late} \\(${node2}\\) up`), 10_000);
  assert.equal((await serve.get('/readyz')).status, 200);

  // x1 enters the cluster at node 2: only node 2's agent sees its selections.
  await routeVia(lab, 'x1', 1);
  const before = (await readBackendLogs(lab)).length;
  const results = await runClient(lab, 'x1', { service: 'lab/web:http', mode: 'http', count: REQUESTS });
  const sent = Date.now();
  const truth = (await readBackendLogs(lab)).length - before;
  assert.equal(
    truth,
    REQUESTS,
    `every request was logged by a backend (${results.filter((r) => !r.answer).length} failed)`,
  );

  const polled = Date.now();
  await waitFor(
    `node 2's ${REQUESTS} selections in /metrics`,
    async () => {
      const text = (await serve.get('/metrics')).text;
      return equals(sample(text, 'stickyscope_service_selections_total', { service: 'lab/web:http' }), REQUESTS);
    },
    5000,
    100,
  );
  const inMetricsMs = Date.now() - polled;
  const inReport = await waitFor(
    `node 2's selections in /report.json`,
    async () => {
      const r = JSON.parse((await serve.get('/report.json')).text) as Report;
      const web = r.services.find((s) => s.name === 'lab/web:http');
      const ok = web?.selections === REQUESTS && web.clients.every((c) => c.nodes.join() === node2);
      return ok ? r : new NotYet(web ?? null, `${REQUESTS} selections, every client on ${node2}`);
    },
    Math.max(0, 5000 - (Date.now() - sent)),
    100,
  );
  t.diagnostic(`node 2's selections in /metrics ${Date.now() - sent} ms after the traffic (${inMetricsMs} ms polling)`);
  assert.ok(inReport.nodes.includes(node2));

  await first.kill(0);
  const killedAt = Date.now();
  const node1 = lab.nodes[0]!;
  await waitFor(
    `node 1 down in /metrics`,
    async () => equals(sample((await serve.get('/metrics')).text, 'stickyscope_agent_up', { node: node1 }), 0),
    5000,
    100,
  );
  const down = await waitFor(
    `node 1's missing window in /report.json`,
    async () => {
      const r = JSON.parse((await serve.get('/report.json')).text) as Report;
      return (
        r.window.missing.find((m) => m.node === node1 && m.ongoing) ?? new NotYet(r.window.missing, 'an ongoing gap')
      );
    },
    5000,
    100,
  );
  const start = Date.parse(down.start);
  assert.ok(
    Math.abs(start - killedAt) < 3000,
    `the gap starts at the kill: ${down.start} vs ${new Date(killedAt).toISOString()}`,
  );
  const metrics = (await serve.get('/metrics')).text;
  assert.equal(sample(metrics, 'stickyscope_agent_up', { node: node2 }), 1, 'node 2 still up');
  assert.equal(second.agents.length, 1);
  const stopped = await serve.stop();
  assert.equal(stopped.code, 0, serve.run.stderr());
});
