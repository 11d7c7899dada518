// Runs a lab scenario from its module for a test: a fresh prefix, output kept for the
// test's diagnostics, and the lab removed in t.after even if the run did not get to it.
import type { TestContext } from 'node:test';
import { labDown } from '../../src/lab/lab.js';
import { runScenario, type Scenario, type ScenarioRun, type ScenarioSetup } from '../../src/scenarios/index.js';
import type { BackendLogLine } from '../../src/lab/traffic-types.js';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { splitHostPort, v6Twin } from '../../src/lab/ip-family.js';
import { runPrefix } from './env.js';
import { groupBy } from './group-by.js';
import type { CurlAnswer } from '../../src/scenarios/netns-tools.js';

/**
 * The modes every scenario runs in: iptables, and nftables with kube-proxy 1.35's and 1.36's rule shapes, over IPv4;
 * and iptables and nftables 1.36 over IPv6. Each must give the same answers against the same ground truth.
 */
export const scenarioSetups: { label: string; setup: ScenarioSetup }[] = [
  { label: 'iptables', setup: { proxyMode: 'iptables' } },
  { label: 'nftables 1.35', setup: { proxyMode: 'nftables', kubeVersion: '1.35' } },
  { label: 'nftables 1.36', setup: { proxyMode: 'nftables', kubeVersion: '1.36' } },
  { label: 'iptables, IPv6', setup: { proxyMode: 'iptables', family: 'IPv6' } },
  { label: 'nftables 1.36, IPv6', setup: { proxyMode: 'nftables', kubeVersion: '1.36', family: 'IPv6' } },
];

export async function runScenarioForTest<E>(
  t: TestContext,
  scenario: Scenario<E>,
  phaseMs: number,
  setup: ScenarioSetup = { proxyMode: 'iptables' },
  opts: { lateStart?: boolean; byteCounters?: boolean } = {},
): Promise<ScenarioRun<E>> {
  const prefix = runPrefix('scn');
  t.after(() => labDown(prefix));
  const printed: string[] = [];
  const run = await runScenario(scenario, {
    prefix,
    phaseMs,
    setup,
    ...opts,
    out: (x) => printed.push(x),
    say: (x) => printed.push(x),
  });
  if (!run) throw new Error(`scenario ${scenario.name} was interrupted`);
  for (const line of printed.join('\n').split('\n')) t.diagnostic(line);
  if (setup.family === 'IPv6') {
    // Over IPv6 everything is IPv6: each Service the report names, and each address a backend was reached at (its log).
    for (const s of run.report.services) assert.match(s.service, /^\[/, `${s.service}: an IPv6 Service`);
    const logs = (run.evidence as { backendLogs?: BackendLogLine[] }).backendLogs ?? [];
    for (const l of logs) assert.ok(isIPv6(splitHostPort(l.local)?.host ?? ''), `${l.backend} reached at ${l.local}`);
  }
  return run;
}

/**
 * The backend's log line of each answer's connection (ground truth: who accepted it). A client port can serve two
 * connections in one run: with Connection: close the server closes first, so the client keeps no TIME_WAIT, and 180
 * connections from one address reuse a port about one run in fifteen. So the answers on one port are paired with its
 * log lines in time order, a new line for each answer that opened a connection; the counts must match.
 */
export function connectionLines<A extends CurlAnswer>(answers: A[], logs: BackendLogLine[]): Map<A, BackendLogLine> {
  const peers = logsByPeer([...logs].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)));
  const byLocal = groupBy(answers, (a) => a.local);
  const out = new Map<A, BackendLogLine>();
  for (const [local, mine] of byLocal) {
    const lines = peers.get(local) ?? [];
    const opened = mine.filter((a) => a.connects > 0).length;
    assert.equal(lines.length, opened, `${local}: ${opened} connections by curl's count, ${lines.length} logged`);
    let next = -1;
    for (const a of [...mine].sort((x, y) => x.at - y.at)) {
      if (a.connects > 0 || next < 0) next++;
      out.set(a, lines[next]!);
    }
  }
  return out;
}

/** Backend log lines by the peer they saw ("ip:port"), for lines at or after `since`. */
function logsByPeer(logs: BackendLogLine[], since = ''): Map<string, BackendLogLine[]> {
  return groupBy(
    logs.filter((l) => l.ts >= since),
    (l) => l.peer,
  );
}

/** "10.1.2.2:8080" or "[fd00:1:2::2]:8080" -> "b2" in the lab's addressing (backend j is 10.1.j.2, fd00:1:j::2). */
export function podOfAddress(backend: string): string {
  const host = splitHostPort(backend)?.host ?? backend;
  return `b${host.split(host.includes(':') ? ':' : '.')[2]}`;
}

/** The lab's address 10.A.B.C in the run's family: itself, or its IPv6 twin fd00:A:B::C. */
export function inFamily(setup: ScenarioSetup, ip: string): string {
  return setup.family === 'IPv6' ? v6Twin(ip) : ip;
}

/** Selections per pod of a report's service entry. */
export function reportByPod(backends: { backend: string; selections: number }[]): Record<string, number> {
  return Object.fromEntries(backends.map((b) => [podOfAddress(b.backend), b.selections]).sort());
}

export function tally(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of [...keys].sort()) out[k] = (out[k] ?? 0) + 1;
  return out;
}
