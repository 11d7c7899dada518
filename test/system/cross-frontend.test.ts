// Issue 25's second real case of a violation named `unknown`: clients reach one ClientIP Service through its
// ClusterIP and through a NodePort with externalTrafficPolicy: Local, entering the same node. The Local path checks
// and sets only the local endpoints' affinity entries, so a client the ClusterIP had sent to a remote pod is pinned
// to a local one by the NodePort, and its next ClusterIP pick follows that entry. On a two-node lab (b1, b2 local to
// the node the clients enter; b3, b4 on the other), in both proxy modes, with real rules and real traffic: every
// ClusterIP move the backends' answers show, to the backend of the client's NodePort pick in between, must be a
// violation with cause `crossFrontend`, and none `unknown`.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { defaultConfig, type LabConfig, type ProxyMode } from '../../src/lab/config.js';
import { labDown, labUp, readBackendLogs, routeVia, runClient, type Lab } from '../../src/lab/lab.js';
import type { ClientResult } from '../../src/lab/traffic-types.js';
import type { StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { startAgents } from '../helpers/agents.js';

const SVC = 'default/php-apache-svc:http';
const NODE_PORT = 31332;
const CLIENTS = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(proxyMode: ProxyMode): LabConfig {
  const c = defaultConfig({ proxyMode, nodes: 2 });
  c.clients = 0;
  c.externalClients = CLIENTS;
  c.dualHomed = true;
  const edge = c.services.find((s) => s.name === 'edge')!;
  c.services = [
    {
      ...edge,
      namespace: 'default',
      name: 'php-apache-svc',
      clusterIP: '10.96.0.30',
      nodePort: NODE_PORT,
      externalTrafficPolicy: 'Local',
      sessionAffinity: 'ClientIP',
      timeoutSeconds: 600,
    },
  ];
  return c;
}

async function until(ok: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting: ${what()}`);
    await sleep(100);
  }
}

/** ClusterIP, NodePort, ClusterIP, NodePort, ClusterIP: three requests each time through the ClusterIP. */
async function calls(lab: Lab, client: string): Promise<(ClientResult & { via: string })[]> {
  const out: (ClientResult & { via: string })[] = [];
  for (const via of ['clusterIP', 'nodePort', 'clusterIP', 'nodePort', 'clusterIP'] as const) {
    const plan = {
      service: SVC,
      mode: 'http' as const,
      count: via === 'clusterIP' ? 3 : 1,
      intervalMs: 30,
      via,
      node: 0,
    };
    for (const r of await runClient(lab, client, plan)) out.push({ ...r, via });
  }
  return out;
}

/** Moves of each client's ClusterIP answers, and those to the backend its NodePort answered in between. */
function truth(byClient: (ClientResult & { via: string })[][]) {
  let moves = 0;
  let crossFrontend = 0;
  for (const rs of byClient) {
    let lastCluster: string | null = null;
    let nodePortSince: string | null = null;
    for (const r of rs) {
      if (r.via === 'nodePort') {
        nodePortSince = r.answer;
        continue;
      }
      if (lastCluster !== null && r.answer !== lastCluster) {
        moves++;
        if (r.answer === nodePortSince) crossFrontend++;
      }
      lastCluster = r.answer;
      nodePortSince = null;
    }
  }
  return { moves, crossFrontend };
}

async function crossFrontend(t: TestContext, proxyMode: ProxyMode): Promise<void> {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  let conn: AgentConnection | undefined;
  t.after(async () => {
    await conn?.stop();
    await labDown(prefix);
  });
  const lab = await labUp({ prefix, config: config(proxyMode) });
  const agents = await startAgents(t, lab, [0]);
  const events: StickyEvent[] = [];
  conn = new AgentConnection(agents.addresses()[0]!, {}, undefined, undefined, agents.link(0));
  conn.on('events', (batch: StickyEvent[]) => events.push(...batch));
  await until(
    () => events.some((e) => e.type === 'catalog'),
    () => 'the first catalog',
  );
  const clients = lab.clients.filter((c) => c.external);
  for (const c of clients) await routeVia(lab, c.name, 0);
  const results = await Promise.all(clients.map((c) => calls(lab, c.name)));
  const all = results.flat();
  assert.ok(
    all.every((r) => r.answer !== null),
    'every request answered',
  );
  // The backends' own logs: each answer is a connection its backend logged.
  const logged = await readBackendLogs(lab);
  assert.equal(logged.length, all.length, 'every connection in the backends logs');
  for (const b of lab.backends)
    assert.equal(
      logged.filter((l) => l.backend === b.name).length,
      all.filter((r) => r.answer === b.name).length,
      `${b.name} logged the connections its answers name`,
    );
  const want = truth(results);
  const ips = new Set(clients.map((c) => c.ip));
  const dnats = () => events.filter((e) => e.type === 'dnat' && ips.has(e.client.slice(0, e.client.lastIndexOf(':'))));
  await until(
    () => dnats().length >= all.length,
    () => `${dnats().length} dnat events of ${all.length} connections`,
  );
  const lastTs = Math.max(...dnats().map((e) => e.ts));
  await until(
    () => events.some((e) => e.type === 'rulesRead' && e.readAt >= lastTs),
    () => 'a rulesRead watermark after the last connection',
  );
  const state = createState({ windowSeconds: 3600 });
  applyEvents(state, events);
  const svc = lab.services[0]!;
  const v = buildReport(state, { scope: 'cumulative' }).services.find(
    (s) => s.service === `${svc.clusterIP}:${svc.port}/tcp`,
  )!.affinityVerdicts;
  const seen = `report: violation ${v.violation} (crossFrontend ${v.violationCauses.crossFrontend}, unknown ${v.violationCauses.unknown}), pending ${v.pending}; answers: ${want.moves} ClusterIP moves, ${want.crossFrontend} to the NodePort's pick`;
  t.diagnostic(`${proxyMode}: ${seen}`);
  assert.ok(want.crossFrontend > 0, `some client was first sent to a remote pod (P = 1 - 2^-${CLIENTS}): ${seen}`);
  assert.equal(want.moves, want.crossFrontend, `every ClusterIP move went to the NodePort's pick: ${seen}`);
  assert.equal(v.violationCauses.crossFrontend, want.crossFrontend, seen);
  assert.equal(v.violation, want.moves, seen);
  assert.equal(v.violationCauses.unknown + v.pending, 0, seen);
}

for (const proxyMode of ['iptables', 'nftables'] as const)
  test(
    `a ClusterIP pick that follows a Local NodePort's pin is a crossFrontend violation (${proxyMode})`,
    {
      timeout: 120_000,
    },
    (t) => crossFrontend(t, proxyMode),
  );
