// Issue 3, an agent killed mid-run: the aggregator (subscribeAgents + the reducer + buildReport, in this process) says
// the node went down and came back when the agent was started again on the same port, and the report names the node and
// the window it is missing. The backends' logs say which connections fell in that window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents } from '../helpers/agents.js';
import { defaultConfig, readBackendLogs, runClient } from '../../src/lab/lab.js';
import { subscribeAgents } from '../../src/protocol/client.js';
import type { AgentStatus } from '../../src/protocol/agent-connection.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { atLeast, waitFor } from '../helpers/wait.js';

test('an agent killed mid-run: node down, then up on the same port, and the report names the missing window', {
  timeout: 120_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const config = defaultConfig({ nodes: 2 });
  config.clients = 1;
  config.externalClients = 0;
  config.services = config.services.filter((s) => s.name === 'web');
  const { lab, agents } = await startLabWithAgents(t, config);
  const [node0, node1] = lab.nodes as [string, string];

  const stop = new AbortController();
  t.after(() => stop.abort());
  const statuses: (AgentStatus & { at: number })[] = [];
  const state = createState();
  let dnat = 0;
  const consumed = (async () => {
    for await (const batch of subscribeAgents(agents.addresses(), {
      signal: stop.signal,
      backoff: { initialMs: 100, maxMs: 400 },
      tls: agents.tls,
      onStatus: (s) => statuses.push({ ...s, at: Date.now() }),
    })) {
      applyEvents(state, batch);
      dnat += batch.filter((e) => e.type === 'dnat').length;
    }
  })();
  const states = (node: string) => statuses.filter((s) => s.node === node).map((s) => s.state);
  await waitFor('both agents up', () => states(node0).length > 0 && states(node1).length > 0, 15_000);

  // c1's traffic goes through node 0 only: that is the agent to kill.
  const traffic = runClient(lab, 'c1', {
    service: 'lab/web:http',
    mode: 'http',
    count: 1000,
    intervalMs: 20,
    durationMs: 7000,
  });
  // The backends' logs: c1's connections, by the time each was logged.
  const logged = async () =>
    (await readBackendLogs(lab))
      .filter((l) => l.peer.startsWith(`${lab.clients[0]!.ip}:`))
      .map((l) => Date.parse(l.ts));
  await waitFor("c1's traffic to be recorded through node 0", () => atLeast(dnat, 50), 15_000);
  const killedAt = Date.now();
  await agents.kill(0);
  await waitFor('node 0 reported down', () => states(node0).includes('down'), 15_000);
  const margin = 300;
  // Connections well inside the gap, as the backends logged them.
  const inside = async () => (await logged()).filter((ts) => ts > killedAt + margin).length;
  await waitFor('connections logged while node 0 is down', async () => atLeast(await inside(), 30), 15_000);
  await agents.restart(0);
  const restartedAt = Date.now();
  await waitFor('node 0 reported up again', () => states(node0).filter((s) => s === 'up').length === 2, 15_000);
  const results = await traffic;
  const upAgainAt = statuses.filter((s) => s.node === node0 && s.state === 'up')[1]!.at;
  const all = await logged();
  // Ground truth: every connection the backends logged well outside the gap is in the report, and none well inside
  // it (the other node saw none of c1's traffic).
  const outside = all.filter((ts) => ts < killedAt - margin || ts > upAgainAt + margin).length;
  await waitFor('the connections logged outside the gap to reach the aggregator', () => atLeast(dnat, outside), 15_000);
  stop.abort();
  await consumed;

  assert.deepEqual(states(node0), ['up', 'down', 'up']);
  assert.deepEqual(states(node1), ['up'], 'the other node never went down');
  const r = buildReport(state, { scope: 'cumulative' });
  assert.equal(r.window.missing.length, 1, JSON.stringify(r.window.missing));
  const gap = r.window.missing[0]!;
  assert.equal(gap.node, node0);
  assert.equal(gap.ongoing, false);
  const [gs, ge] = [Date.parse(gap.start), Date.parse(gap.end)];
  assert.ok(
    gs >= killedAt && gs <= killedAt + 1000,
    `the gap starts when the agent died: ${gap.start}, killed at ${new Date(killedAt).toISOString()}`,
  );
  assert.ok(
    ge >= restartedAt && ge <= upAgainAt + 50,
    `the gap ends when it served again: ${gap.end}, restarted ${new Date(restartedAt).toISOString()}`,
  );

  const notInside = all.filter((ts) => !(ts > gs + margin && ts < ge - margin)).length;
  const web = r.services.find((s) => s.name === 'lab/web:http')!;
  const inGap = all.length - notInside;
  t.diagnostic(
    `${results.length} requests, ${all.length} logged, ${web.selections} in the report; gap ${((ge - gs) / 1000).toFixed(2)} s with ${inGap} connections inside`,
  );
  assert.ok(inGap > 10, 'traffic ran through the gap');
  assert.ok(
    web.selections >= outside && web.selections <= notInside,
    `report has ${web.selections} selections; logs say between ${outside} and ${notInside}`,
  );
  assert.deepEqual(r.nodes, [node0, node1].sort());
});
