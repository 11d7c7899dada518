// Issue 3 end to end: two real agents on a two-node lab, real traffic, and the report
// CLI's JSON checked against the backends' own logs (which backend each connection
// reached, in what order), never against the aggregator's own output.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents, startReportCli } from '../helpers/agents.js';
import { watchConntrack, type ConntrackNew } from '../helpers/conntrack-events.js';
import {
  defaultConfig,
  readBackendLogs,
  routeVia,
  runClient,
  setEndpoints,
  type BackendLogLine,
  type ClientResult,
  type Lab,
  type KubeVersion,
  type LabConfig,
  type ProxyMode,
} from '../../src/lab/lab.js';
import type { Report, ServiceReport } from '../../src/report/types.js';

const POD_CLIENTS = ['c1', 'c2', 'c3', 'c4'];
const EXTERNAL = ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8'];
/** Requests per client through the plain Service. */
const WEB_PER_CLIENT = 150;
const STICKY_PER_CLIENT = 40;

/** iptables mode, and kube-proxy's nftables mode in both its shapes: the same traffic, the same truths. */
const MODES: { proxyMode: ProxyMode; kubeVersion?: KubeVersion }[] = [
  { proxyMode: 'iptables' },
  { proxyMode: 'nftables', kubeVersion: '1.35' },
  { proxyMode: 'nftables', kubeVersion: '1.36' },
];

function labConfig(mode: (typeof MODES)[number]): LabConfig {
  const c = defaultConfig({ nodes: 2, ...mode });
  c.clients = POD_CLIENTS.length;
  c.externalClients = EXTERNAL.length;
  c.dualHomed = true;
  const sticky = c.services.find((s) => s.name === 'sticky')!;
  // One Service address that external clients reach through either node; affinity is kept per node.
  c.services.push({ ...structuredClone(sticky), name: 'sticky-ext', clusterIP: '10.96.0.14', timeoutSeconds: 60 });
  return c;
}

function serviceOf(r: Report, name: string): ServiceReport {
  const s = r.services.find((x) => x.name === name);
  assert.ok(s, `report has ${name}; it has ${r.services.map((x) => x.name ?? x.service).join(', ')}`);
  return s;
}

/** Backend name -> "ip:port" of its endpoint, as the report names backends. */
function endpointOf(lab: Lab, port: number): (name: string) => string {
  return (name) => `${lab.backends.find((b) => b.name === name)!.ip}:${port}`;
}

/**
 * Per client (in request order) the backend its logs show; every request must have
 * reached one. Source ports get reused over hundreds of connections, so a result's
 * line is the latest one of its ip:port logged before the answer came (a client's
 * connections are sequential, and a backend logs a connection before answering).
 */
async function truth(lab: Lab, results: ClientResult[]): Promise<Map<string, string[]>> {
  const byPeer = new Map<string, BackendLogLine[]>();
  for (const l of await readBackendLogs(lab))
    byPeer.set(`${l.proto} ${l.peer}`, [...(byPeer.get(`${l.proto} ${l.peer}`) ?? []), l]);
  const out = new Map<string, string[]>();
  for (const r of [...results].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0))) {
    const line = (byPeer.get(`${r.proto} ${r.local}`) ?? []).filter((l) => l.ts <= r.ts).at(-1);
    assert.ok(line, `no backend logged ${r.client} ${r.local} (answer ${r.answer ?? r.error})`);
    assert.equal(r.answer, line.backend, `${r.local} answered by ${r.answer}, logged by ${line.backend}`);
    out.set(r.client, [...(out.get(r.client) ?? []), line.backend]);
  }
  return out;
}

function pairsOf(seqs: Iterable<string[]>): { pairs: number; same: number } {
  let pairs = 0;
  let same = 0;
  for (const s of seqs) {
    for (let i = 1; i < s.length; i++) {
      pairs++;
      if (s[i] === s[i - 1]) same++;
    }
  }
  return { pairs, same };
}

function countsOf(seqs: Iterable<string[]>, ep: (n: string) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of seqs) for (const b of s) out[ep(b)] = (out[ep(b)] ?? 0) + 1;
  return out;
}

/** Backend selections per backend the node's conntrack made for Service address `vip` (a second truth). */
function conntrackCounts(news: ConntrackNew[], vip: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of news) if (n.proto === 'tcp' && n.service === vip) out[n.backend] = (out[n.backend] ?? 0) + 1;
  return out;
}

/** Requests that took a SYN retransmission (>= 1 s) or failed: where a miscount would come from. */
function slowRequests(results: ClientResult[]): string {
  const slow = results.filter((r) => r.answer === null || r.ms >= 1000);
  return slow.map((r) => `${r.client} ${r.local} ${r.ms} ms ${r.answer ?? r.error}`).join('; ') || 'none';
}

function reportCounts(s: ServiceReport): Record<string, number> {
  return Object.fromEntries(s.backends.filter((b) => b.selections > 0).map((b) => [b.backend, b.selections]));
}

async function eachClient(names: string[], plan: Parameters<typeof runClient>[2], lab: Lab): Promise<ClientResult[]> {
  return (await Promise.all(names.map((n) => runClient(lab, n, plan)))).flat();
}

/** Connections the backends logged so far: the ground truth of how many dnat events the agents must send. */
const loggedCount = async (lab: Lab) => (await readBackendLogs(lab)).length;

for (const mode of MODES) {
  const label = mode.proxyMode === 'iptables' ? 'iptables mode' : `nftables mode ${mode.kubeVersion}`;
  test(`issue 3 in a two-node lab (${label}): two agents, real traffic, report vs backend logs`, {
    timeout: 240_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const { lab, agents } = await startLabWithAgents(t, labConfig(mode));
    assert.equal(agents.agents.length, 2);

    await t.test(
      'affinity Service: compliance 1, stickiness 1; plain Service: stickiness near 1/K, chi-square does not reject uniform',
      async (t: TestContext) => {
        const report = await startReportCli(t, agents);
        // The clients sit on node 1: its conntrack sees every translation (one NEW entry per NAT decision).
        const ct = await watchConntrack(lab.nodes[0]!);
        t.after(() => ct.kill());
        const logged = await loggedCount(lab);
        const web = await eachClient(
          POD_CLIENTS,
          { service: 'lab/web:http', mode: 'http', count: WEB_PER_CLIENT },
          lab,
        );
        const sticky = await eachClient(
          POD_CLIENTS,
          { service: 'lab/sticky:http', mode: 'http', count: STICKY_PER_CLIENT },
          lab,
        );
        await report.waitForDnat((await loggedCount(lab)) - logged);
        const r = await report.finish();
        const news = await ct.stop(web.length + sticky.length);
        assert.deepEqual(r.nodes, [...lab.nodes].sort());
        assert.equal(r.lostEvents, 0);

        const webTruth = await truth(lab, web);
        const w = serviceOf(r, 'lab/web:http');
        const K = 4;
        assert.equal(w.selections, POD_CLIENTS.length * WEB_PER_CLIENT);
        assert.deepEqual(
          reportCounts(w),
          countsOf(webTruth.values(), endpointOf(lab, 8080)),
          'selections per backend equal the backend logs',
        );
        const webPairs = pairsOf(webTruth.values());
        assert.deepEqual(
          { pairs: w.stickiness.pairs, same: w.stickiness.sameBackend },
          { pairs: webPairs.pairs, same: webPairs.same },
          'same-backend pairs equal the logs',
        );
        assert.equal(w.stickiness.expectedRandom, 1 / K);
        // Under uniform random picks the same-backend indicators of successive pairs are
        // independent Bernoulli(1/K): sd = sqrt(p(1-p)/pairs) = 0.0177 for 596 pairs;
        // 5 sd (0.089) fails a correct node with probability < 1e-6.
        const sd = Math.sqrt(((1 / K) * (1 - 1 / K)) / webPairs.pairs);
        assert.ok(
          Math.abs(w.stickiness.ratio! - 1 / K) < 5 * sd,
          `web stickiness ${w.stickiness.ratio} is within 5 sd (${(5 * sd).toFixed(3)}) of 1/K`,
        );
        assert.ok(w.spread.chi2P! > 0.001, `chi-square p ${w.spread.chi2P} does not reject uniform`);
        t.diagnostic(
          `web: ${JSON.stringify(reportCounts(w))} stickiness ${w.stickiness.ratio!.toFixed(3)} (1/K 0.25, 5 sd ${(5 * sd).toFixed(3)}) chi2P ${w.spread.chi2P!.toFixed(3)}`,
        );

        const stickyTruth = await truth(lab, sticky);
        const s = serviceOf(r, 'lab/sticky:http');
        assert.equal(s.affinity.mode, 'ClientIP');
        assert.equal(s.affinity.timeoutSeconds, 10);
        for (const [client, seq] of stickyTruth)
          assert.equal(new Set(seq).size, 1, `${client} stayed on one backend in the logs: ${seq.join(',')}`);
        const stickyVip = `${lab.services.find((x) => x.name === 'sticky')!.clusterIP}:80`;
        const why = `conntrack NEW on ${lab.nodes[0]}: ${JSON.stringify(conntrackCounts(news, stickyVip))}; slow or failed requests: ${slowRequests(sticky)}`;
        assert.deepEqual(
          reportCounts(s),
          countsOf(stickyTruth.values(), endpointOf(lab, 8080)),
          `report vs backend logs; ${why}`,
        );
        assert.deepEqual(reportCounts(s), conntrackCounts(news, stickyVip), `report vs the node's conntrack; ${why}`);
        const pairs = POD_CLIENTS.length * (STICKY_PER_CLIENT - 1);
        assert.deepEqual(s.stickiness, { pairs, sameBackend: pairs, ratio: 1, expectedRandom: 1 / K });
        assert.equal(s.affinityVerdicts.held, pairs);
        assert.equal(s.affinityVerdicts.violation, 0);
        assert.equal(s.affinityVerdicts.compliance, 1);
      },
    );

    await t.test(
      'an endpoint removed mid-run is a forcedRepick for the clients pinned to it, not a violation',
      async (t: TestContext) => {
        const report = await startReportCli(t, agents);
        const logged = await loggedCount(lab);
        const plan = { service: 'lab/sticky:http', mode: 'http', count: 5 } as const;
        const before = await truth(lab, await eachClient(POD_CLIENTS, plan, lab));
        const removed = before.get('c1')!.at(-1)!;
        const svc = lab.services.find((x) => x.name === 'sticky')!;
        await setEndpoints(
          lab,
          'lab/sticky:http',
          svc.endpoints.filter((e) => e.pod !== removed),
        );
        // The agents re-read the rules every second; the gap stays well under the 10 s timeout.
        const gone = endpointOf(lab, 8080)(removed);
        await report.waitForCatalog(`every agent's catalog without ${gone}`, (services) => {
          const sticky = services.find((x) => x.name === 'lab/sticky:http');
          return sticky !== undefined && !sticky.endpoints.includes(gone);
        });
        const after = await truth(lab, await eachClient(POD_CLIENTS, plan, lab));
        await report.waitForDnat((await loggedCount(lab)) - logged);
        const r = await report.finish();

        let forced = 0;
        for (const c of POD_CLIENTS) {
          const [a, b] = [before.get(c)!, after.get(c)!];
          assert.equal(new Set(a).size, 1, `${c} held before: ${a}`);
          assert.equal(new Set(b).size, 1, `${c} held after: ${b}`);
          if (a[0] === removed) {
            assert.notEqual(b[0], removed, `${c} left the removed ${removed}`);
            forced++;
          } else assert.equal(b[0], a[0], `${c} kept ${a[0]}, which stayed an endpoint`);
        }
        assert.ok(forced >= 1, 'c1 was pinned to the removed endpoint');
        const v = serviceOf(r, 'lab/sticky:http').affinityVerdicts;
        const pairs = POD_CLIENTS.length * (2 * plan.count - 1);
        assert.deepEqual(
          {
            held: v.held,
            violation: v.violation,
            forcedRepick: v.forcedRepick,
            expired: v.expired,
            compliance: v.compliance,
          },
          { held: pairs - forced, violation: 0, forcedRepick: forced, expired: 0, compliance: 1 },
        );
        t.diagnostic(`removed ${removed}: ${forced} client(s) re-picked`);
      },
    );

    await t.test(
      'a client reaching a Service through both nodes shows node-local affinity divergence',
      async (t: TestContext) => {
        const report = await startReportCli(t, agents);
        const logged = await loggedCount(lab);
        // Masquerade hides the client's port from the backend, so each run gets its own
        // time span and the backend log lines inside it are that run's.
        const spans: { client: string; node: number; from: string; to: string }[] = [];
        for (const client of EXTERNAL) {
          for (const node of [0, 1]) {
            await routeVia(lab, client, node);
            const from = new Date().toISOString();
            const res = await runClient(lab, client, { service: 'lab/sticky-ext:http', mode: 'http', count: 4 });
            assert.ok(
              res.every((x) => x.answer),
              `${client} via node ${node}: ${res.map((x) => x.error).join(', ')}`,
            );
            spans.push({ client, node, from, to: new Date().toISOString() });
          }
          await routeVia(lab, client, 0);
        }
        await report.waitForDnat((await loggedCount(lab)) - logged);
        const r = await report.finish();
        const logs = await readBackendLogs(lab);
        const ep = endpointOf(lab, 8080);
        const seen = new Map<string, Record<string, string>>();
        for (const s of spans) {
          const lines = logs.filter((l) => l.proto === 'tcp' && l.ts >= s.from && l.ts <= s.to);
          assert.equal(lines.length, 4, `${s.client} via node ${s.node}: 4 connections logged`);
          assert.equal(new Set(lines.map((l) => l.backend)).size, 1, `${s.client} held its backend on node ${s.node}`);
          seen.set(s.client, { ...seen.get(s.client), [lab.nodes[s.node]!]: ep(lines[0]!.backend) });
        }
        const diverged = [...seen].filter(([, b]) => new Set(Object.values(b)).size > 1);
        // Independent picks among 4 pods: all 8 clients agreeing has probability 4^-8.
        assert.ok(diverged.length >= 1, 'some client got different pods on the two nodes');
        const s = serviceOf(r, 'lab/sticky-ext:http');
        assert.equal(s.nodeDivergence.clients, diverged.length);
        const expected = diverged
          .map(([client, backends]) => ({ client: lab.clients.find((c) => c.name === client)!.ip, backends }))
          .sort((a, b) => (a.client < b.client ? -1 : 1));
        assert.deepEqual(
          [...s.nodeDivergence.examples].sort((a, b) => (a.client < b.client ? -1 : 1)),
          expected,
        );
        assert.equal(s.affinityVerdicts.violation, 0);
        t.diagnostic(`${diverged.length} of ${EXTERNAL.length} clients diverged across nodes`);
      },
    );
  });
}
