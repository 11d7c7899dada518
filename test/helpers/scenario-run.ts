// Runs a lab scenario from its module for a test: a fresh prefix, output kept for the
// test's diagnostics, and the lab removed in t.after even if the run did not get to it.
import type { TestContext } from 'node:test';
import { labDown } from '../../src/lab/lab.js';
import { runScenario, type Scenario, type ScenarioRun } from '../../src/scenarios/index.js';
import type { BackendLogLine } from '../../src/lab/traffic-types.js';
import type { ProxySetup } from '../../src/lab/config.js';
import { runPrefix } from './env.js';

/**
 * The modes every scenario runs in: iptables, and nftables with kube-proxy 1.35's and 1.36's rule shapes. Each must
 * give the same answers against the same ground truth.
 */
export const scenarioSetups: { label: string; setup: ProxySetup }[] = [
  { label: 'iptables', setup: { proxyMode: 'iptables' } },
  { label: 'nftables 1.35', setup: { proxyMode: 'nftables', kubeVersion: '1.35' } },
  { label: 'nftables 1.36', setup: { proxyMode: 'nftables', kubeVersion: '1.36' } },
];

export async function runScenarioForTest<E>(
  t: TestContext,
  scenario: Scenario<E>,
  phaseMs: number,
  setup: ProxySetup = { proxyMode: 'iptables' },
): Promise<ScenarioRun<E>> {
  const prefix = runPrefix('scn');
  t.after(() => labDown(prefix));
  const printed: string[] = [];
  const run = await runScenario(scenario, {
    prefix,
    phaseMs,
    setup,
    out: (x) => printed.push(x),
    say: (x) => printed.push(x),
  });
  if (!run) throw new Error(`scenario ${scenario.name} was interrupted`);
  for (const line of printed.join('\n').split('\n')) t.diagnostic(line);
  return run;
}

/** Backend log lines by the peer they saw ("ip:port"), for lines at or after `since`. */
export function logsByPeer(logs: BackendLogLine[], since = ''): Map<string, BackendLogLine[]> {
  const out = new Map<string, BackendLogLine[]>();
  for (const l of logs) if (l.ts >= since) out.set(l.peer, [...(out.get(l.peer) ?? []), l]);
  return out;
}

/** "10.1.2.2:8080" -> "b2" in the lab's addressing (backend j is 10.1.j.2). */
export function podOfAddress(backend: string): string {
  return `b${backend.split('.')[2]}`;
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
