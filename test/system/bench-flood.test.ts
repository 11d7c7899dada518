// The bench's load generator (build/flood) makes the flows it says it made: checked
// against the node's conntrack table (conntrack -C / -L in the node netns), the
// kernel's own record, not against the generator's count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { requireRoot } from '../helpers/env.js';
import { startLab } from '../helpers/lab-fixture.js';
import { floodPath } from '../../scripts/bench/flood.js';

const FLOWS = 3000;
/** Straddles the end of the first source address's 64512 ports, so two sources are used. */
const FIRST = 64512 - 1000;

function inNode(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

for (const proto of ['udp', 'tcp'] as const) {
  test(`flood sends ${FLOWS} distinct ${proto} flows and the node tracks exactly those`, async (t) => {
    if (!requireRoot(t)) return;
    assert.ok(existsSync(floodPath), `${floodPath} is missing: run 'npm run build'`);
    const lab = await startLab(t);
    const node = lab.nodes[0]!;
    const svc =
      lab.services.find((s) => s.protocol === proto && s.sessionAffinity === 'None') ??
      lab.services.find((s) => s.protocol === proto)!;
    const client = lab.clients[0]!;
    const out = execFileSync(
      floodPath,
      [
        '--netns',
        `/run/netns/${client.netns}`,
        '--proto',
        proto,
        '--dst',
        `${svc.clusterIP}:${svc.port}`,
        '--src-base',
        client.ip,
        '--src-count',
        '2',
        '--count',
        String(FLOWS),
        '--first',
        String(FIRST),
        '--duration',
        '20',
      ],
      { encoding: 'utf8' },
    );
    const claimed = JSON.parse(out) as { sent: number; next: number };
    assert.equal(claimed.sent, FLOWS);
    assert.equal(claimed.next, FIRST + FLOWS);

    const listed = inNode(node, 'conntrack', '-L', '-p', proto, '--orig-dst', svc.clusterIP)
      .split('\n')
      .filter((l) => l.includes(`dport=${svc.port} `));
    const flows = new Set(listed.map((l) => /src=(\S+) dst=\S+ sport=(\d+)/.exec(l)?.slice(1, 3).join(':')));
    assert.equal(
      flows.size,
      FLOWS,
      `conntrack lists ${flows.size} distinct flows to ${svc.clusterIP}:${svc.port}, the generator claims ${FLOWS}`,
    );
    const sources = new Set([...flows].map((f) => f!.split(':')[0]));
    const second = client.ip.replace(/\d+$/, (d) => String(Number(d) + 1));
    assert.deepEqual([...sources].sort(), [client.ip, second].sort());
    // Every flow went through the Service's DNAT: its reply comes from an endpoint, not the Service.
    const endpoints = new Set(svc.endpoints.map((e) => e.ip));
    assert.ok(
      listed.every((l) => endpoints.has([...l.matchAll(/src=(\S+)/g)][1]?.[1] ?? '')),
      'every entry is translated to one of the Service endpoints',
    );
    assert.ok(Number(inNode(node, 'conntrack', '-C').trim()) >= FLOWS);
  });
}
