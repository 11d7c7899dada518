// Real IPv6 traffic through a dual-stack node (test/helpers/dual-stack-node.ts) in iptables and nftables mode, seen by
// a real agent (probe, both families' rules) over mutual TLS: every IPv6 connection must be named with the Service its
// client dialled and the backend that answered and logged it, as `conntrack -E` saw it too; the ClientIP Service must
// pin the IPv6 client as its backends' logs show; and the report must make each dual-stack Service one row.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../../src/core/event.js';
import { labTls, makeLabCerts } from '../../src/lab/lab-tls.js';
import { groupBy } from '../helpers/group-by.js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { buildReport } from '../../src/report/build-report.js';
import { cliPath } from '../helpers/cli.js';
import { watchConntrack } from '../helpers/conntrack-events.js';
import { CLIENT6, DualStackNode, NODE6, dualStackConfig } from '../helpers/dual-stack-node.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { netnsNames } from '../helpers/lab-fixture.js';
import { v6Of } from '../helpers/v6-fixtures.js';
import { waitFor } from '../helpers/wait.js';

const WEB6 = v6Of('10.96.0.10');
const STICKY6 = v6Of('10.96.0.11');

/** Starts `stickyscope agent` for the node with the run's throwaway certificates; stopped by pid in t.after. */
async function startAgent(
  t: TestContext,
  net: DualStackNode,
  dir: string,
): Promise<{ address: string; tls: ReturnType<typeof labTls> }> {
  await makeLabCerts(dir, ['node']);
  const tls = labTls(dir, ['node']);
  const ready = join(dir, 'agent.ready');
  const args = ['agent', '--netns', net.nodePath, '--listen', '127.0.0.1:0', '--node-name', 'node'];
  const child = spawn(process.execPath, [cliPath, ...args, '--ready-file', ready, ...tls.agentArgs(0)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await waitFor(`the agent (stderr: ${err})`, () => existsSync(ready) || child.exitCode !== null, 20_000);
  if (child.exitCode !== null) throw new Error(`the agent exited (${child.exitCode}): ${err}`);
  assert.doesNotMatch(err, /warning/i, 'a dual-stack node is read without warnings');
  return { address: readFileSync(ready, 'utf8').trim(), tls };
}

for (const mode of ['iptables', 'nftables'] as const) {
  test(`${mode} mode: IPv6 connections named by the agent as the backends and conntrack saw them`, async (t) => {
    if (!requireRoot(t)) return;
    const prefix = runPrefix();
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-ds-`));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const net = new DualStackNode(prefix, dualStackConfig(mode));
    t.after(async () => {
      await net.teardown();
      assert.ok(!netnsNames().some((n) => n.startsWith(prefix)), 'every namespace removed');
    });
    net.build();
    await net.serve();
    const agent = await startAgent(t, net, dir);

    const got: StickyEvent[] = [];
    const conn = new AgentConnection(agent.address, {}, undefined, undefined, { tls: agent.tls.client, node: 'node' });
    t.after(() => conn.stop());
    conn.on('events', (events: StickyEvent[]) => got.push(...events));
    await waitFor('the first catalog', () => got.some((e) => e.type === 'catalog'), 20_000);
    const catalog = got.find((e): e is CatalogEvent => e.type === 'catalog')!;
    assert.equal(catalog.proxyMode, mode);
    // The lab's Service without endpoints is lab-no-endpoints.test.ts's; these are the ones traffic goes to.
    assert.deepEqual(
      catalog.services.filter((s) => s.name !== 'lab/empty:http').map((s) => [s.service, s.name]),
      [
        ['10.96.0.10:80/tcp', 'lab/web:http'],
        ['10.96.0.11:80/tcp', 'lab/sticky:http'],
        ['10.96.0.13:80/tcp', 'lab/edge:http'],
        [`[${WEB6}]:80/tcp`, 'lab/web:http'],
        [`[${STICKY6}]:80/tcp`, 'lab/sticky:http'],
        [`[${v6Of('10.96.0.13')}]:80/tcp`, 'lab/edge:http'],
      ],
    );

    const ct = await watchConntrack(net.node, 'ipv6');
    t.after(() => ct.kill());
    const targets: [string, number][] = [
      ...Array.from({ length: 16 }, () => [WEB6, 80] as [string, number]),
      ...Array.from({ length: 8 }, () => [STICKY6, 80] as [string, number]),
      ...Array.from({ length: 8 }, () => ['10.96.0.10', 80] as [string, number]),
      // The NodePort at the node's IPv6 address: named from the IPv6 rules' NodePorts.
      ...Array.from({ length: 6 }, () => [NODE6, 30080] as [string, number]),
    ];
    const results = net.connect(targets);
    const v6 = results.filter((r) => r.local.startsWith('['));
    assert.equal(v6.length, 30);
    await waitFor('a dnat event for every connection', () => got.filter((e) => e.type === 'dnat').length >= 38, 20_000);
    const seen = await ct.stop(v6.length);

    // Keyed by client port, in order: 38 connections from one address reuse a port about one run in forty, and a
    // reused port is a second connection (the k-th result on a port is its k-th dnat and conntrack entry).
    const dnats = groupBy(
      got.filter((e): e is DnatEvent => e.type === 'dnat'),
      (e) => e.client,
    );
    const logged = groupBy(net.log, (l) => l.peer);
    const entries = groupBy(seen, (c) => c.client);
    const nth = new Map<string, number>();
    for (const r of v6) {
      const k = nth.get(r.local) ?? 0;
      nth.set(r.local, k + 1);
      const e = dnats.get(r.local)?.[k];
      assert.ok(e, `a dnat event for ${r.local}`);
      const lines = logged.get(r.local) ?? [];
      const conns = v6.filter((x) => x.local === r.local).length;
      assert.equal(lines.length, conns, `backend log lines for ${r.local}`);
      // Backends' lines arrive through separate pipes, so on a reused port the answer picks the line.
      const line = lines.find((l) => l.backend === r.answer);
      assert.ok(line, `the backend that answered ${r.local} (${r.answer}) logged it`);
      assert.equal(e.service, r.target, 'the address dialled');
      const named = r.target.includes(`${WEB6}]`) ? 'web' : r.target.includes(`${STICKY6}]`) ? 'sticky' : 'edge';
      assert.equal(e.serviceName, `lab/${named}:http`);
      assert.equal(e.backend, line.local, 'the backend, as the backend saw itself reached');
      const c = entries.get(r.local)?.[k];
      assert.ok(c, `conntrack saw ${r.local}`);
      assert.equal(e.backend, c.backend, 'conntrack agrees on the backend');
    }
    // Both backends served the IPv6 web Service; the ClientIP one pinned the IPv6 client to one backend.
    const webBackends = new Set(v6.filter((r) => r.target.includes(WEB6)).map((r) => r.answer));
    assert.equal(webBackends.size, 2, `16 picks over two backends used both (p = 2^-15 of failing by chance)`);
    const stickyBackends = new Set(v6.filter((r) => r.target.includes(STICKY6)).map((r) => r.answer));
    assert.equal(stickyBackends.size, 1, 'affinity held for the IPv6 client');

    const state = createState({ windowSeconds: 600 });
    applyEvents(state, got);
    const report = buildReport(state, { scope: 'cumulative' });
    const web = report.services.filter((s) => s.name === 'lab/web:http');
    assert.equal(web.length, 1, 'the dual-stack Service is one row');
    assert.deepEqual(web[0]!.families, { ipv4: 8, ipv6: 16 });
    assert.deepEqual(web[0]!.addresses, ['10.96.0.10:80/tcp', `[${WEB6}]:80/tcp`]);
    const sticky = report.services.find((s) => s.name === 'lab/sticky:http')!;
    assert.deepEqual(sticky.families, { ipv4: 0, ipv6: 8 });
    assert.equal(sticky.affinityVerdicts.held, 7, 'seven pairs of the IPv6 client held');
    assert.equal(sticky.affinityVerdicts.violation, 0);
    assert.ok(sticky.clients.some((c) => c.client === CLIENT6));
    // The IPv6 NodePort is a frontend of lab/edge:http, beside its cluster IPs: one row, its selections apart.
    const edge = report.services.filter((s) => s.name === 'lab/edge:http');
    assert.equal(edge.length, 1, 'lab/edge:http is one row');
    assert.equal(edge[0]!.frontends?.find((f) => f.address === `[${NODE6}]:30080/tcp`)?.selections, 6);
  });
}
