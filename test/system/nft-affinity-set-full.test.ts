// nftables mode, both rule shapes: a ClientIP Service whose affinity sets hold 4 clients each (the lab sets `size`),
// 36 client addresses over 3 endpoints. A full set evicts nothing: clients beyond its size are simply not pinned, and
// coming back within the timeout are re-picked at random. The backends' logs say who moved; the sets, read with nft in
// the node's namespace, say who was never pinned. The report must name the Service from the nftables table, count
// exactly the moves as violations with cause setFull, and show each set's fill as nft does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { requireRoot } from '../helpers/env.js';
import { startLabWithAgents, startReportCli } from '../helpers/agents.js';
import {
  defaultConfig,
  readBackendLogs,
  runClient,
  type BackendLogLine,
  type ClientResult,
  type KubeVersion,
  type Lab,
} from '../../src/lab/lab.js';
import { waitFor, equals } from '../helpers/wait.js';

const CLIENTS = 36;
const SIZE = 4;
const STICKY = 'lab/sticky:http';

/** Clients in each endpoint's affinity set, by endpoint "ip:port", read with nft (JSON) in the node's namespace. */
function readSets(lab: Lab): Map<string, { clients: Set<string>; size: number }> {
  const text = execFileSync(
    'ip',
    ['netns', 'exec', lab.nodes[0]!, 'nft', '-j', 'list', 'sets', 'table', 'ip', 'kube-proxy'],
    {
      encoding: 'utf8',
    },
  );
  const out = new Map<string, { clients: Set<string>; size: number }>();
  for (const item of JSON.parse(text).nftables) {
    const m = /^affinity-[A-Z2-7]{8}-lab\/sticky\/tcp\/http__([\d.]+)\/(\d+)$/.exec(item.set?.name ?? '');
    if (!m) continue;
    const clients = new Set<string>((item.set.elem ?? []).map((e: { elem: { val: string } }) => e.elem.val));
    out.set(`${m[1]}:${m[2]}`, { clients, size: item.set.size });
  }
  return out;
}

/** Source address -> backend "ip:port", for one round, from the backends' logs (no masquerade: peer is the client). */
function backendsOf(lab: Lab, logs: BackendLogLine[], results: ClientResult[]): Map<string, string> {
  const ipOf = new Map(lab.backends.map((b) => [b.name, b.ip]));
  const byPeer = new Map(logs.map((l) => [l.peer, l]));
  const out = new Map<string, string>();
  for (const r of results) {
    const line = byPeer.get(r.local);
    assert.ok(
      line && r.answer === line.backend,
      `${r.local}: answered ${r.answer ?? r.error}, logged ${line?.backend}`,
    );
    out.set(r.local.split(':')[0]!, `${ipOf.get(line.backend)}:8080`);
  }
  return out;
}

for (const version of ['1.35', '1.36'] as KubeVersion[]) {
  test(`nftables ${version}: clients a full affinity set never pinned move as setFull violations`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    const config = defaultConfig({ nodes: 1, proxyMode: 'nftables', kubeVersion: version });
    config.clients = 1;
    config.externalClients = 0;
    config.extraSources = CLIENTS;
    config.services = config.services.filter((s) => s.name === 'sticky');
    config.services[0]!.affinitySetSize = SIZE;
    const { lab, agents } = await startLabWithAgents(t, config);
    const sources = lab.clients.find((c) => c.name === 'c1')!.sources;
    const report = await startReportCli(t, agents);

    const t0 = Date.now();
    const round1 = await runClient(lab, 'c1', { service: STICKY, mode: 'http', count: CLIENTS, sources });
    const logs1 = (await readBackendLogs(lab)).filter((l) => l.proto === 'tcp');
    const first = backendsOf(lab, logs1, round1);
    assert.equal(first.size, CLIENTS);
    const sets = readSets(lab);
    const unpinned = sources.filter((ip) => !sets.get(first.get(ip)!)!.clients.has(ip));
    const round2 = await runClient(lab, 'c1', { service: STICKY, mode: 'http', count: CLIENTS, sources });
    const setsAfter = readSets(lab);
    assert.ok(Date.now() - t0 < 10_000 - 1000, 'both rounds fit in the 10 s affinity timeout');

    const logs = (await readBackendLogs(lab)).filter((l) => l.proto === 'tcp' && l.ts > logs1.at(-1)!.ts);
    const second = backendsOf(lab, logs, round2);
    const moved = [...first].filter(([ip, b]) => second.get(ip) !== b).map(([ip]) => ip);
    // The agent's set reads (every 250 ms): its last affinitySets event has the fill the kernel's sets show, and a
    // setFull event names each client the logs show moved.
    await waitFor(
      "the agent's set reads to reach the sets' fill and every moved client",
      () => {
        const events = report.events();
        const last = events.filter((e) => e.type === 'affinitySets').at(-1);
        const fill = (last?.type === 'affinitySets' ? last.sets : [])
          .filter((x) => setsAfter.has(x.endpoint))
          .map((x) => [x.endpoint, x.elements])
          .sort();
        const setFull = new Set(
          events.flatMap((e) => (e.type === 'evicted' && e.cause === 'setFull' ? [e.client] : [])),
        );
        const seen = { fill, unreported: moved.filter((ip) => !setFull.has(ip)) };
        const want = { fill: [...setsAfter].map(([e, x]) => [e, x.clients.size]).sort(), unreported: [] };
        return equals(seen, want);
      },
      10_000,
    );
    await report.waitForDnat(2 * CLIENTS);
    const r = await report.finish();
    t.diagnostic(
      `sets after round 1: ${[...sets].map(([e, s]) => `${e}=${s.clients.size}/${s.size}`).join(' ')}; unpinned ${unpinned.length}, moved ${moved.length}`,
    );
    for (const [e, s] of sets) assert.equal(s.size, SIZE, `${e}: the lab's size`);
    assert.ok(
      [...sets.values()].every((s) => s.clients.size === SIZE),
      'every set filled (36 clients over 3)',
    );
    assert.deepEqual(
      [...setsAfter].map(([e, s]) => [e, [...s.clients].sort()]),
      [...sets].map(([e, s]) => [e, [...s.clients].sort()]),
      'a full set takes no one new and loses no one within the timeout',
    );
    assert.equal(unpinned.length, CLIENTS - 3 * SIZE);
    assert.ok(moved.length >= 1, 'some unpinned client was re-picked elsewhere');
    assert.deepEqual(
      moved.filter((ip) => !unpinned.includes(ip)),
      [],
      'only clients a set never pinned moved',
    );

    const s = r.services.find((x) => x.name === STICKY)!;
    assert.ok(s, `the Service is named from the nftables table; got ${r.services.map((x) => x.name).join(', ')}`);
    assert.deepEqual(s.affinity, { mode: 'ClientIP', timeoutSeconds: 10, source: 'rules' });
    assert.equal(s.selections, 2 * CLIENTS);
    const logged = new Map<string, number>();
    for (const m of [first, second]) for (const b of m.values()) logged.set(b, (logged.get(b) ?? 0) + 1);
    assert.deepEqual(
      Object.fromEntries(s.backends.map((b) => [b.backend, b.selections])),
      Object.fromEntries([...logged].sort()),
      'spread as the backends logged it',
    );
    assert.equal(s.affinityVerdicts.violation, moved.length, 'one violation per client the logs show moved');
    assert.deepEqual(s.affinityVerdicts.violationCauses, {
      listFull: 0,
      setFull: moved.length,
      crossFrontend: 0,
      unknown: 0,
    });
    assert.equal(s.affinityVerdicts.held, CLIENTS - moved.length);
    assert.deepEqual(
      s.affinitySets.map((a) => [a.endpoint, a.elements, a.size, a.fill]),
      [...setsAfter]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([e, x]) => [e, x.clients.size, x.size, x.clients.size / x.size]),
      'fill as nft shows it: 100%',
    );
  });
}
