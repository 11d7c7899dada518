// Issue 26's check of live connections on the lab: N keep-alive TCP connections and M UDP flows are opened and held,
// THEN the agent starts (mutual TLS, as deployed), then half of them end. Ground truth: the backends' own logs (which
// client reached which pod) and `conntrack -L` in the node namespace (state and bytes), never the agent's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { requireRoot } from '../helpers/env.js';
import { startLab } from '../helpers/lab-fixture.js';
import { startAgents } from '../helpers/agents.js';
import { startServe } from '../helpers/serve.js';
import { Holder } from '../helpers/live-holder.js';
import { conntrackTable, isOpen, type TableEntry } from '../helpers/conntrack-table.js';
import { waitFor } from '../helpers/wait.js';
import { readBackendLogs } from '../../src/lab/lab.js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { RejectedEvents } from '../../src/protocol/validate.js';
import type { ConnEvent, StickyEvent, SweepEvent } from '../../src/core/event.js';

const N = 12;
const M = 6;
const key = (proto: string, client: string, backend: string) => `${proto} ${client} => ${backend}`;
const sorted = (xs: string[]) => [...xs].sort();
const countBy = (xs: string[]) =>
  Object.fromEntries([...new Set(xs)].sort().map((x) => [x, xs.filter((y) => y === x).length]));

/** What the events say is open now, by connection: the latest counters of each opened and not closed. */
function liveFromEvents(events: StickyEvent[]): Map<string, ConnEvent> {
  const live = new Map<string, ConnEvent>();
  for (const e of events) {
    if (e.type !== 'open' && e.type !== 'close' && e.type !== 'traffic') continue;
    const id = `${e.proto} ${e.client} ${e.service}`;
    if (e.type === 'close') live.delete(id);
    else live.set(id, e);
  }
  return live;
}

test('open and close match the backends and conntrack connection by connection; counts and bytes per backend too', async (t) => {
  if (!requireRoot(t)) return;
  const lab = await startLab(t);
  const ns = lab.nodes[0]!;
  const sysctl = (v?: string) =>
    execFileSync(
      'ip',
      ['netns', 'exec', ns, 'sysctl', '-n', v ? `-w` : '', `net.netfilter.nf_conntrack_acct${v ? '=' + v : ''}`].filter(
        Boolean,
      ),
      {
        encoding: 'utf8',
      },
    ).trim();
  const acctBefore = sysctl();
  sysctl('1');
  // Hooks run in order: the lab may be down already, and with its namespace went the setting.
  t.after(() => existsSync(`/run/netns/${ns}`) && sysctl(acctBefore));

  const web = lab.services.find((s) => s.serviceName === 'lab/web:http')!;
  const dns = lab.services.find((s) => s.serviceName === 'lab/dns:dns')!;
  const client = lab.clients.find((c) => !c.external)!;
  const holder = new Holder(client.netns, {
    tcp: N,
    udp: M,
    tcpHost: web.clusterIP,
    tcpPort: web.port,
    udpHost: dns.clusterIP,
    udpPort: dns.port,
    source: client.ip,
  });
  t.after(() => holder.stop());
  const held = await holder.next<{ tcp: string[]; udp: string[] }>('tcp');
  const mine = new Set([...held.tcp, ...held.udp]);
  const logged = (await readBackendLogs(lab)).filter((l) => mine.has(l.peer));
  const truthByLog = sorted([...new Set(logged.map((l) => key(l.proto, l.peer, l.local)))]);
  assert.equal(truthByLog.length, N + M, 'the backends logged every connection and flow once');
  const tableNow = () => conntrackTable(ns).filter((e) => mine.has(e.client));

  // The agent starts after the connections exist.
  const agents = await startAgents(t, lab, [0], { args: ['--conntrack-sweep', '1s'], metrics: true });
  // serve --summaries on it too: the summaries carry the node's open connections per backend.
  const serve = await startServe(t, ['--summaries', '--agent', agents.addresses()[0]!, ...agents.clientArgs()]);
  const conn = new AgentConnection(agents.agents[0]!.address, {}, undefined, new RejectedEvents(), agents.link(0));
  t.after(() => conn.stop());
  const events: StickyEvent[] = [];
  conn.on('events', (batch: StickyEvent[]) => events.push(...batch));
  const sweeps = () => events.filter((e): e is SweepEvent => e.type === 'sweep');
  await waitFor('the dump at attach', () => sweeps().some((s) => s.initial), 30_000);

  const opens = events.filter((e): e is ConnEvent => e.type === 'open' && mine.has(e.client));
  assert.deepEqual(sorted(opens.map((e) => key(e.proto, e.client, e.backend))), truthByLog, 'open = the backends');
  const table = tableNow();
  assert.deepEqual(
    sorted(opens.map((e) => key(e.proto, e.client, e.backend))),
    sorted(table.filter(isOpen).map((e) => key(e.proto, e.client, e.backend))),
    'open = conntrack -L',
  );
  assert.ok(opens.every((e) => e.type === 'open' && e.seen === 'dump'));
  assert.ok(opens.every((e) => e.serviceName === (e.proto === 'tcp' ? web.serviceName : dns.serviceName)));
  assert.ok(opens.filter((e) => e.proto === 'tcp').every((e) => e.tcpState === 'ESTABLISHED'));
  assert.ok(
    opens.every((e) => e.origBytes !== undefined && e.origBytes > 0),
    'accounting was on: bytes each',
  );

  // Half end: TCP by the client (FIN, TIME_WAIT), UDP flows by their entries leaving the table.
  const sweepsBefore = sweeps().length;
  holder.send(`close ${N / 2}`);
  const closedTcp = (await holder.next<{ closed: string[] }>('closed')).closed;
  const closedUdp = held.udp.slice(0, M / 2);
  for (const peer of closedUdp) {
    const [ip, port] = peer.split(':');
    execFileSync('ip', ['netns', 'exec', ns, 'conntrack', '-D', '-p', 'udp', '--orig-src', ip!, '--sport', port!], {
      stdio: 'ignore',
    });
  }
  const ended = new Set([...closedTcp, ...closedUdp]);
  const closes = () => events.filter((e): e is ConnEvent => e.type === 'close' && mine.has(e.client));
  await waitFor('the closes', () => closes().length >= ended.size && sweeps().length > sweepsBefore + 1, 30_000);
  const byLog = new Map(logged.map((l) => [l.peer, l.local]));
  assert.deepEqual(
    sorted(closes().map((e) => key(e.proto, e.client, e.backend))),
    sorted([...ended].map((peer) => key(held.tcp.includes(peer) ? 'tcp' : 'udp', peer, byLog.get(peer)!))),
    'close = the connections that ended, with the backends the logs name',
  );
  assert.ok(
    closes()
      .filter((e) => e.proto === 'tcp')
      .every((e) => e.tcpState === 'TIME_WAIT'),
  );

  // Bytes move on the connections left; then, at a moment when the table stands still, the figures per backend.
  holder.send('ping');
  await holder.next('pinged');
  let table2: TableEntry[] = [];
  for (let round = 0; ; round++) {
    const a = tableNow();
    const n = sweeps().length;
    await waitFor('a sweep', () => sweeps().length > n, 10_000);
    table2 = tableNow();
    const still =
      JSON.stringify(a.map((e) => [e.client, e.bytes, e.state])) ===
      JSON.stringify(table2.map((e) => [e.client, e.bytes, e.state]));
    if (still) break;
    assert.ok(round < 10, 'the table stood still between two reads around one sweep');
  }
  const live = [...liveFromEvents(events).values()].filter((e) => mine.has(e.client));
  const open2 = table2.filter(isOpen);
  assert.deepEqual(countBy(live.map((e) => e.backend)), countBy(open2.map((e) => e.backend)), 'open per backend');
  const bytesBy = (rows: { backend: string; bytes: number }[]) => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(r.backend, (m.get(r.backend) ?? 0) + r.bytes);
    return m;
  };
  const fromEvents = bytesBy(
    live.map((e) => ({ backend: e.backend, bytes: (e.origBytes ?? 0) + (e.replyBytes ?? 0) })),
  );
  const fromTable = bytesBy(open2);
  for (const [backend, bytes] of fromTable) {
    const got = fromEvents.get(backend) ?? 0;
    assert.ok(Math.abs(got - bytes) <= bytes * 0.01, `bytes of ${backend}: events ${got}, conntrack -L ${bytes}`);
  }
  t.diagnostic(`bytes per backend (conntrack -L): ${JSON.stringify(Object.fromEntries(fromTable))}`);

  // The agent's /metrics at a moment the whole table stands still around a sweep: open connections per Service and
  // backend equal conntrack -L's (every translated entry of the node, not only the held ones).
  const openInTable = () =>
    countBy(
      conntrackTable(ns)
        .filter(isOpen)
        .map((e) => `${e.service}/${e.proto} ${e.backend}`),
    );
  for (let round = 0; ; round++) {
    const before = openInTable();
    const n = sweeps().length;
    await waitFor('a sweep', () => sweeps().length > n, 10_000);
    const scraped = await liveMetric(await (await fetch(`http://${agents.agents[0]!.metrics!}/metrics`)).text());
    const after = openInTable();
    if (JSON.stringify(before) === JSON.stringify(after)) {
      assert.deepEqual(scraped, after, 'stickyscope_backend_live_connections = conntrack -L, per Service and backend');
      // serve has them with the next summary (every 2 s).
      const fromServe = async () => liveMetric((await serve.get('/metrics')).text);
      await waitFor(
        'serve --summaries to have the same',
        async () => JSON.stringify(await fromServe()) === JSON.stringify(after),
        10_000,
      );
      t.diagnostic(`open per backend (conntrack -L, agent and serve /metrics): ${JSON.stringify(after)}`);
      break;
    }
    assert.ok(round < 10, 'the table stood still between two reads around one sweep');
  }
});

/** The non-zero stickyscope_backend_live_connections of a scrape, as "ip:port/proto backend" => count. */
function liveMetric(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(
    /^stickyscope_backend_live_connections\{[^}]*address="([^"]+)",backend="([^"]+)"[^}]*\} (\d+)$/gm,
  ))
    if (Number(m[3]) > 0) out[`${m[1]} ${m[2]}`] = Number(m[3]);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
