// Issue 25's rollout: endpoints of a ClientIP Service removed and added back while clients with affinity (c1, c2 on
// lab/sticky:http) and without (c3 on lab/web:http) run, on a real agent, in both proxy modes. The ground truth is
// the backends' logs (which backend each connection of a client reached) and the rules' history (when each change
// was loaded): a client that moved off a backend the rules had just dropped was forced; one that moved while its
// backend stayed listed violated its affinity. The aggregator must count exactly those, with no `unknown` cause and
// nothing left pending. ROLLOUT_REPEAT rounds per mode (default 1; 20 for the issue's measurement), ROLLOUT_MODES the
// proxy modes (default "iptables nftables").
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { defaultConfig, type ProxyMode } from '../../src/lab/config.js';
import { labDown, labUp, readBackendLogs, runClient, setEndpoints, type Lab } from '../../src/lab/lab.js';
import type { LabEndpoint } from '../../src/lab/config.js';
import type { BackendLogLine } from '../../src/lab/traffic-types.js';
import type { StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { drainNotable } from '../../src/aggregator/queries.js';
import { isoMicros } from '../../src/core/event.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { startAgents } from '../helpers/agents.js';

const STICKY = 'lab/sticky:http';
/** lab/sticky:http's affinity timeout (defaultConfig). */
const TIMEOUT_MS = 10_000;
const ROUNDS = Math.max(1, Number(process.env.ROLLOUT_REPEAT ?? 1));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Change {
  /** Wall-clock ms just before the change was asked for and just after every node had it. */
  from: number;
  to: number;
  removed: string | null;
}

/** Waits for `ok`, checking every 100 ms, failing with `what` after `ms`. */
async function until(ok: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting: ${what()}`);
    await sleep(100);
  }
}

/**
 * The moves of each affinity client by the backends' logs, judged by the rules' history: forced when the backend it
 * left was removed by a change begun before the connection that moved (and not yet added back), else a violation.
 */
function truth(lines: BackendLogLine[], clients: Set<string>, changes: Change[]) {
  const byClient = new Map<string, BackendLogLine[]>();
  for (const l of lines) {
    const ip = l.peer.slice(0, l.peer.lastIndexOf(':'));
    if (clients.has(ip)) byClient.set(ip, [...(byClient.get(ip) ?? []), l]);
  }
  let forced = 0;
  let violations = 0;
  const moves: string[] = [];
  for (const [ip, ls] of byClient) {
    for (let i = 1; i < ls.length; i++) {
      const [prev, cur] = [ls[i - 1]!, ls[i]!];
      if (prev.local === cur.local) continue;
      const at = Date.parse(cur.ts);
      // Past the timeout the client may move anywhere: expired, neither forced nor a violation.
      if (at - Date.parse(prev.ts) > TIMEOUT_MS) continue;
      const removal = changes.filter((c) => c.from <= at).at(-1);
      const gone = removal?.removed === prev.local;
      if (gone) forced++;
      else violations++;
      moves.push(
        `${ip} ${prev.local} -> ${cur.local} at ${cur.ts} (previous ${prev.ts}) ${gone ? 'forced' : 'VIOLATION'}`,
      );
    }
  }
  return { forced, violations, moves, connections: [...byClient.values()].reduce((n, ls) => n + ls.length, 0) };
}

async function round(lab: Lab, events: StickyEvent[], agentNode: string, changes: Change[]): Promise<void> {
  const stop = new AbortController();
  const [c1, c2, c3] = lab.clients.filter((c) => !c.external);
  const plan = { mode: 'http' as const, count: 100_000, intervalMs: 40, durationMs: 60_000 };
  const traffic = [
    runClient(lab, c1!.name, { ...plan, service: STICKY }, stop.signal),
    runClient(lab, c2!.name, { ...plan, service: STICKY }, stop.signal),
    runClient(lab, c3!.name, { ...plan, service: 'lab/web:http' }, stop.signal),
  ];
  try {
    const all: LabEndpoint[] = lab.config.services.find((s) => s.name === 'sticky')!.endpoints;
    await sleep(1000); // the clients pin themselves
    for (const gone of all) {
      const load = async (endpoints: LabEndpoint[], removed: string | null) => {
        const from = Date.now();
        await setEndpoints(lab, STICKY, endpoints);
        changes.push({ from, to: Date.now(), removed });
      };
      await load(
        all.filter((e) => e !== gone),
        `${gone.ip}:${gone.port}`,
      );
      // A pod gone for 2.5 s: a read triggered by its removal must see it gone, and on this shared machine a read can
      // take a second. (Kubernetes never brings an endpoint back this fast; a rolling update adds new addresses.)
      await sleep(2500);
      await load(all, null);
      await sleep(700);
    }
  } finally {
    stop.abort();
    await Promise.all(traffic.map((p) => p.catch(() => [])));
  }
  // Recorded reaches the ground truth: every connection the backends logged is a dnat event, and a watermark covers
  // the last of them.
  const clients = new Set([c1!.ip, c2!.ip, c3!.ip]);
  const logged = (await readBackendLogs(lab)).filter((l) => clients.has(l.peer.slice(0, l.peer.lastIndexOf(':'))));
  const lastLogged = Math.max(...logged.map((l) => Date.parse(l.ts)));
  const dnats = () =>
    events.filter((e) => e.type === 'dnat' && clients.has(e.client.slice(0, e.client.lastIndexOf(':'))));
  await until(
    () => dnats().length >= logged.length,
    () => `${dnats().length} dnat events of ${logged.length} logged connections`,
  );
  await until(
    () => events.some((e) => e.type === 'rulesRead' && e.node === agentNode && e.readAt >= lastLogged * 1000),
    () => `a rulesRead watermark after ${new Date(lastLogged).toISOString()}`,
  );
}

async function rollout(t: TestContext, proxyMode: ProxyMode): Promise<void> {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  let conn: AgentConnection | undefined;
  t.after(async () => {
    await conn?.stop();
    await labDown(prefix);
  });
  const lab = await labUp({ prefix, config: defaultConfig({ proxyMode }) });
  const agents = await startAgents(t, lab, [0]);
  const events: StickyEvent[] = [];
  conn = new AgentConnection(agents.addresses()[0]!, {}, undefined, undefined, agents.link(0));
  conn.on('events', (batch: StickyEvent[]) => events.push(...batch));
  await until(
    () => events.some((e) => e.type === 'catalog'),
    () => 'the first catalog',
  );
  const changes: Change[] = [];
  const sticky = lab.services.find((s) => s.name === 'sticky')!;
  const key = `${sticky.clusterIP}:${sticky.port}/tcp`;
  const c = lab.clients.filter((x) => !x.external);
  const unknowns: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Each round starts well past the affinity timeout of the last: no move between rounds sits near the timeout.
    if (r > 0) await sleep(TIMEOUT_MS + 1500);
    await round(lab, events, agents.agents[0]!.node, changes);
    const state = createState({ windowSeconds: 3600 });
    applyEvents(state, events);
    state.settlePending();
    const report = buildReport(state, { scope: 'cumulative' });
    const v = report.services.find((s) => s.service === key)!.affinityVerdicts;
    const web = report.services.find((s) => s.name === 'lab/web:http')!;
    const want = truth(await readBackendLogs(lab), new Set([c[0]!.ip, c[1]!.ip]), changes);
    unknowns.push(v.violationCauses.unknown);
    const history = changes
      .map(
        (c) =>
          `${new Date(c.from).toISOString()}..${new Date(c.to).toISOString().slice(17)} ${c.removed ? `-${c.removed}` : 'all'}`,
      )
      .join('\n');
    const seen0 = `rules history:\n${history}\nreport: violation ${v.violation} (unknown ${v.violationCauses.unknown}), forcedRepick ${v.forcedRepick}, pending ${v.pending}; backends' logs and rules: ${want.violations} violations, ${want.forced} forced\n${want.moves.join('\n')}`;
    // What the agent said around each violation it reported, for a failure to show.
    const near = drainNotable(state)
      .events.flatMap((n) => (n.kind === 'violation' && n.verdict === undefined && n.service === key ? [n] : []))
      .flatMap((n) => [
        `violation ${n.client} ${n.from} -> ${n.to} at ${isoMicros(n.ts)}:`,
        ...events
          .filter((e) => Math.abs(e.ts - n.ts) < 1.5e6 && (e.type === 'catalog' || e.type === 'rulesRead'))
          .map((e) =>
            e.type === 'rulesRead'
              ? `  rulesRead ts ${isoMicros(e.ts)} readAt ${isoMicros(e.readAt)}`
              : `  catalog ts ${isoMicros(e.ts)} ${e.type === 'catalog' ? e.services.find((x) => x.service === key)?.endpoints.join(' ') : ''}`,
          ),
      ]);
    const seen = `${seen0}\n${near.join('\n')}`;
    assert.equal(v.violationCauses.unknown, 0, `no unknown cause (round ${r + 1}): ${seen}`);
    assert.equal(v.violation, want.violations, `every violation a true one (round ${r + 1}): ${seen}`);
    assert.equal(v.forcedRepick, want.forced, `every removal a forced re-pick (round ${r + 1}): ${seen}`);
    assert.equal(v.pending, 0);
    assert.ok(want.forced > 0, `the rollout forced some re-picks: ${seen}`);
    assert.equal(web.affinityVerdicts.violation + web.affinityVerdicts.pending, 0, 'no affinity, no verdicts');
  }
  t.diagnostic(`${proxyMode}: ${ROUNDS} rounds, unknown per round: ${unknowns.join(' ')}`);
}

for (const proxyMode of (process.env.ROLLOUT_MODES ?? 'iptables nftables').split(' ') as ProxyMode[])
  test(
    `rollout (${proxyMode}): removals are forced re-picks, every violation a true one, none unknown`,
    {
      timeout: 60_000 + ROUNDS * 30_000,
    },
    (t) => rollout(t, proxyMode),
  );
