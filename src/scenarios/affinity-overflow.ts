// More clients than xt_recent's per-endpoint list holds (ip_list_tot, 100 by default): 3 ClientIP endpoints, 3 x
// ip_list_tot + 30 client addresses, two rounds within the timeout. A full list drops its oldest entry for each new
// one; an evicted client coming back is re-picked at random, breaking affinity with cause listFull.
import { existsSync, readFileSync } from 'node:fs';
import { defaultConfig, type LabConfig } from '../lab/config.js';
import { endpointChains } from '../lab/rules.js';
import { readBackendLogs, runClient } from '../lab/traffic.js';
import type { BackendLogLine, ClientResult } from '../lab/traffic-types.js';
import type { Lab } from '../lab/lab.js';
import { runIn } from './netns-tools.js';
import { num, podOf, serviceIn, table } from './format.js';
import type { Scenario } from './types.js';

export const STICKY = 'lab/sticky:http';
const TIMEOUT_SECONDS = 30;
/** The agent polls the lists every 250 ms; round 2 waits until it has seen round 1's. */
const WATCHER_MS = 1000;

export interface OverflowEvidence {
  capacity: number;
  round1: ClientResult[];
  /** Each pod's xt_recent list between the rounds (client addresses). */
  listsBefore: Record<string, string[]>;
  round2: ClientResult[];
  backendLogs: BackendLogLine[];
}

export function listCapacity(): number {
  const f = '/sys/module/xt_recent/parameters/ip_list_tot';
  return existsSync(f) ? Number(readFileSync(f, 'utf8')) : 100;
}

function config(): LabConfig {
  const c = defaultConfig();
  c.clients = 1;
  c.externalClients = 0;
  c.extraSources = 3 * listCapacity() + 30;
  const sticky = c.services.find((s) => s.name === 'sticky')!;
  c.services = [{ ...sticky, timeoutSeconds: TIMEOUT_SECONDS }];
  return c;
}

async function readLists(lab: Lab): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [chain, ep] of endpointChains(lab.services[0]!)) {
    const text = await runIn(lab.nodes[0]!, 'cat', [`/proc/net/xt_recent/${chain}`]);
    out[ep.pod] = [...text.matchAll(/^src=(\S+) /gm)].map((m) => m[1]!);
  }
  return out;
}

export const affinityOverflow: Scenario<OverflowEvidence> = {
  name: 'affinity-overflow',
  seed: 'gke-session-affinity-iptables.md',
  summary: 'more ClientIP clients than an xt_recent list holds: affinity violations with cause listFull',
  defaultPhaseMs: 10_000,
  config,
  async traffic(ctx) {
    const { lab } = ctx;
    const sources = lab.clients[0]!.sources;
    const capacity = listCapacity();
    ctx.say(
      `affinity-overflow: round 1, one request from each of ${sources.length} client addresses (lists hold ${capacity} each)`,
    );
    const round1 = await runClient(
      lab,
      'c1',
      { service: STICKY, mode: 'http', count: sources.length, sources },
      ctx.signal,
    );
    await new Promise((r) => setTimeout(r, WATCHER_MS));
    const listsBefore = await readLists(lab);
    const listed = new Set(Object.values(listsBefore).flat());
    // Listed clients first (their entries refresh), then the evicted ones: each re-pick can
    // then push out only an entry already refreshed, so every move has a visible cause.
    const order = [...sources.filter((ip) => listed.has(ip)), ...sources.filter((ip) => !listed.has(ip))];
    ctx.say(
      `affinity-overflow: round 2 within the ${TIMEOUT_SECONDS} s timeout; ${sources.length - listed.size} addresses were evicted`,
    );
    const round2 = ctx.signal.aborted
      ? []
      : await runClient(
          lab,
          'c1',
          { service: STICKY, mode: 'http', count: sources.length, sources: order },
          ctx.signal,
        );
    return { capacity, round1, listsBefore, round2, backendLogs: await readBackendLogs(lab) };
  },
  lookAt: (lab) =>
    `${lab.clients[0]?.sources.length} client addresses (on pod c1) call ${STICKY} (ClientIP, ${TIMEOUT_SECONDS} s) twice, ` +
    `well within the timeout. Each endpoint's xt_recent list holds ${listCapacity()} addresses (ip_list_tot); the ` +
    `addresses beyond that push the oldest ones out. An evicted client coming back is picked at random again: ` +
    `watch the violations counter and the event log, where each violation says cause listFull (the agent saw the ` +
    `client's entry vanish from a full list before its timeout).`,
  answer(report, ev, lab) {
    const s = serviceIn(report, STICKY);
    const v = s?.affinityVerdicts;
    const evicted = ev.round1.length - new Set(Object.values(ev.listsBefore).flat()).size;
    return [
      `${STICKY} (${s?.service ?? 'not in the report'}): ${s?.selections ?? 0} selections from ${s?.clients.length ?? 0} clients; lists hold ${ev.capacity} each`,
      ...table(
        ['pod', 'selections', 'clients', 'listed after round 1'],
        (s?.backends ?? []).map((b) => [
          podOf(lab, b.backend),
          b.selections,
          b.clients,
          ev.listsBefore[podOf(lab, b.backend)]?.length ?? 0,
        ]),
      ),
      `  ${evicted} addresses were evicted from full lists after round 1`,
      `  held ${v?.held ?? 0}, violation ${v?.violation ?? 0} (listFull ${v?.violationCauses.listFull ?? 0}, setFull ${v?.violationCauses.setFull ?? 0}, unknown ${v?.violationCauses.unknown ?? 0}), compliance ${num(v?.compliance)}`,
    ];
  },
};
