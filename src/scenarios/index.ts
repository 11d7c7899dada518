// The lab's field scenarios, by name, in the order `lab scenario --list` shows them.
import { UsageError } from '../core/errors.js';
import type { Scenario } from './types.js';
import { keepalive } from './keepalive.js';
import { affinityTimeout } from './affinity-timeout.js';
import { kubeDns } from './kube-dns.js';
import { nodeportLocal } from './nodeport-local.js';
import { udpSession } from './udp-session.js';
import { affinityOverflow } from './affinity-overflow.js';
import { grpcLongLived } from './grpc-long-lived.js';
import { topology } from './topology.js';

export const scenarios: Scenario<unknown>[] = [
  keepalive,
  affinityTimeout,
  kubeDns,
  nodeportLocal,
  udpSession,
  affinityOverflow,
  grpcLongLived,
  topology,
];

export function findScenario(name: string): Scenario<unknown> {
  const s = scenarios.find((x) => x.name === name);
  if (!s)
    throw new UsageError(
      `unknown scenario '${name}'; expected one of: ${scenarios.map((x) => x.name).join(', ')} (see 'stickyscope lab scenario --list')`,
    );
  return s;
}

export type { Scenario, ScenarioSetup } from './types.js';
export { runScenario, type ScenarioRun } from './run.js';
