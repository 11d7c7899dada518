// Issue 32: rule changes are seen, not polled, and reach subscribers within 1 s, in both proxy modes and both
// families. A dual-stack Service loses a pod and gets it back, five times; each change is loaded into the node's
// kernel (setEndpoints returns once every node has it), and the agent's catalog must then show exactly the new
// endpoints for both the IPv4 and the IPv6 address. The delay is measured from the load's end to the catalog's arrival.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { defaultConfig, type LabEndpoint, type ProxyMode } from '../../src/lab/config.js';
import { labDown, labUp, setEndpoints } from '../../src/lab/lab.js';
import type { CatalogEvent, StickyEvent } from '../../src/core/event.js';
import { joinHostPort } from '../../src/lab/ip-family.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { startAgents } from '../helpers/agents.js';

const DUAL = 'lab/dual:http';
const CHANGES = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function delays(t: TestContext, proxyMode: ProxyMode): Promise<void> {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  let conn: AgentConnection | undefined;
  t.after(async () => {
    await conn?.stop();
    await labDown(prefix);
  });
  const lab = await labUp({ prefix, config: defaultConfig({ proxyMode, ipFamilies: ['IPv4', 'IPv6'] }) });
  const agents = await startAgents(t, lab, [0]);
  const catalogs: { at: number; e: CatalogEvent }[] = [];
  conn = new AgentConnection(agents.addresses()[0]!, {}, undefined, undefined, agents.link(0));
  conn.on('events', (batch: StickyEvent[]) => {
    for (const e of batch) if (e.type === 'catalog') catalogs.push({ at: Date.now(), e });
  });
  const spec = lab.config.services.find((s) => s.name === 'dual')!;
  const [v4, v6] = spec.clusterIPs!.map((ip) => `${joinHostPort(ip, spec.port)}/tcp`);
  const endpointsOf = (e: CatalogEvent, key: string) =>
    [...(e.services.find((s) => s.service === key)?.endpoints ?? [])].sort().join(' ');
  const want = (eps: LabEndpoint[], six: boolean) =>
    eps
      .filter((x) => x.ip.includes(':') === six)
      .map((x) => joinHostPort(x.ip, x.port))
      .sort()
      .join(' ');
  const shows = (eps: LabEndpoint[], since: number) =>
    catalogs.find(
      (c) => c.at >= since && endpointsOf(c.e, v4!) === want(eps, false) && endpointsOf(c.e, v6!) === want(eps, true),
    );
  const all = spec.endpoints;
  const deadline = async (eps: LabEndpoint[], since: number) => {
    for (const end = Date.now() + 5000; !shows(eps, since); await sleep(10))
      if (Date.now() > end) assert.fail(`no catalog with ${want(eps, false)} | ${want(eps, true)} within 5 s`);
    return shows(eps, since)!.at;
  };
  await deadline(all, 0);
  const measured: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const eps = i % 2 === 0 ? all.filter((e) => e.pod !== `b${1 + (i % 3)}`) : all;
    const before = Date.now();
    await setEndpoints(lab, DUAL, eps);
    const loaded = Date.now();
    const seen = await deadline(eps, before);
    measured.push(seen - loaded);
    // Spread the changes over the rules' old polling period, so no change is seen by a read that was due anyway.
    await sleep(300 + 137 * i);
  }
  t.diagnostic(`${proxyMode}: catalog after the load, ms: ${measured.join(' ')}`);
  for (const ms of measured) assert.ok(ms < 1000, `${proxyMode}: a change reached subscribers ${ms} ms after its load`);
}

for (const proxyMode of ['iptables', 'nftables'] as const)
  test(`rule changes reach subscribers within 1 s, IPv4 and IPv6 (${proxyMode})`, { timeout: 120_000 }, (t) =>
    delays(t, proxyMode),
  );
