// More ClientIP clients than kube-proxy's per-endpoint affinity memory holds, two rounds within the timeout.
// iptables mode: 3 endpoints, 3 x ip_list_tot + 30 client addresses; a full xt_recent list drops its oldest entry for
// each new one, and an evicted client coming back is re-picked at random (cause listFull). nftables mode: the lab gives
// each affinity set a small `size`; a full set evicts nothing, clients beyond it are never pinned (cause setFull).
import { existsSync, readFileSync } from 'node:fs';
import { defaultConfig, type LabConfig, type ProxySetup } from '../lab/config.js';
import { endpointChains } from '../kube-proxy/iptables-render.js';
import { nftEndpointChains } from '../kube-proxy/nft-render.js';
import { readBackendLogs, runClient } from '../lab/traffic.js';
import type { BackendLogLine, ClientResult } from '../lab/traffic-types.js';
import type { Lab } from '../lab/lab.js';
import { runIn } from './netns-tools.js';
import { num, podOf, serviceIn, table } from './format.js';
import type { Scenario } from './types.js';
import { clientSources, familyOfLab } from './family.js';
import { canonicalIp } from '../core/ip.js';

export const STICKY = 'lab/sticky:http';
const TIMEOUT_SECONDS = 30;
/** nftables mode: each affinity set's `size`, small so that a few dozen clients fill it. */
const SET_SIZE = 10;
/** The agent polls the lists and sets every 250 ms; round 2 waits until it has seen round 1's. */
const WATCHER_MS = 1000;

export interface OverflowEvidence {
  /** Clients one endpoint's xt_recent list (iptables mode) or affinity set (nftables mode) holds. */
  capacity: number;
  round1: ClientResult[];
  /** The client addresses each pod's list or set held between the rounds. */
  pinnedBefore: Record<string, string[]>;
  round2: ClientResult[];
  backendLogs: BackendLogLine[];
}

function listCapacity(): number {
  const f = '/sys/module/xt_recent/parameters/ip_list_tot';
  return existsSync(f) ? Number(readFileSync(f, 'utf8')) : 100;
}

const nftMode = (c: Pick<LabConfig, 'proxyMode'>) => c.proxyMode === 'nftables';
const capacityOf = (c: LabConfig) => (nftMode(c) ? SET_SIZE : listCapacity());

function config(setup: ProxySetup): LabConfig {
  const c = defaultConfig(setup);
  c.clients = 1;
  c.externalClients = 0;
  c.extraSources = 3 * capacityOf(c) + 30;
  const sticky = c.services.find((s) => s.name === 'sticky')!;
  c.services = [{ ...sticky, timeoutSeconds: TIMEOUT_SECONDS, ...(nftMode(c) ? { affinitySetSize: SET_SIZE } : {}) }];
  return c;
}

/** Each pod's pinned clients: its xt_recent list, or its affinity set read as JSON with nft. */
async function readPinned(lab: Lab): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const svc = lab.services[0]!;
  if (!nftMode(lab.config)) {
    for (const [chain, ep] of endpointChains(svc)) {
      const text = await runIn(lab.nodes[0]!, 'cat', [`/proc/net/xt_recent/${chain}`]);
      // IPv6 entries are written with every group in full: compared in the kernel's usual (RFC 5952) spelling.
      out[ep.pod] = [...text.matchAll(/^src=(\S+) /gm)].map((m) => canonicalIp(m[1]!));
    }
    return out;
  }
  const table = familyOfLab(lab) === 'IPv6' ? 'ip6' : 'ip';
  const text = await runIn(lab.nodes[0]!, 'nft', ['-j', 'list', 'sets', 'table', table, 'kube-proxy']);
  const sets = new Map<string, unknown[]>();
  for (const item of (JSON.parse(text) as { nftables: { set?: { name: string; elem?: unknown[] } }[] }).nftables)
    if (item.set) sets.set(item.set.name, item.set.elem ?? []);
  for (const [chain, ep] of nftEndpointChains(lab.config, svc)) {
    const elems = sets.get(chain.replace(/^endpoint-/, 'affinity-')) ?? [];
    // An element with a timeout is {elem: {val, expires}}, one without a bare address.
    out[ep.pod] = elems.map((e) => canonicalIp(typeof e === 'string' ? e : (e as { elem: { val: string } }).elem.val));
  }
  return out;
}

export const affinityOverflow: Scenario<OverflowEvidence> = {
  name: 'affinity-overflow',
  seed: 'gke-session-affinity-iptables.md',
  summary:
    'more ClientIP clients than an xt_recent list (or an nftables affinity set) holds: violations with cause listFull (setFull)',
  defaultPhaseMs: 10_000,
  config,
  async traffic(ctx) {
    const { lab } = ctx;
    const sources = clientSources(lab, lab.clients[0]!);
    const capacity = capacityOf(lab.config);
    const kind = nftMode(lab.config) ? 'sets' : 'lists';
    ctx.say(
      `affinity-overflow: round 1, one request from each of ${sources.length} client addresses (${kind} hold ${capacity} each)`,
    );
    const round1 = await runClient(
      lab,
      'c1',
      { service: STICKY, mode: 'http', count: sources.length, sources },
      ctx.signal,
    );
    await new Promise((r) => setTimeout(r, WATCHER_MS));
    const pinnedBefore = await readPinned(lab);
    const listed = new Set(Object.values(pinnedBefore).flat());
    // Listed clients first (their entries refresh), then the evicted ones: in iptables mode each re-pick can then
    // push out only an entry already refreshed, so every move has a visible cause (a full set evicts nothing).
    const order = [...sources.filter((ip) => listed.has(ip)), ...sources.filter((ip) => !listed.has(ip))];
    ctx.say(
      `affinity-overflow: round 2 within the ${TIMEOUT_SECONDS} s timeout; ${sources.length - listed.size} addresses were ${nftMode(lab.config) ? 'never pinned' : 'evicted'}`,
    );
    const round2 = ctx.signal.aborted
      ? []
      : await runClient(
          lab,
          'c1',
          { service: STICKY, mode: 'http', count: sources.length, sources: order },
          ctx.signal,
        );
    return { capacity, round1, pinnedBefore, round2, backendLogs: await readBackendLogs(lab) };
  },
  lookAt: (lab) =>
    `${lab.clients[0]?.sources.length} client addresses (on pod c1) call ${STICKY} (ClientIP, ${TIMEOUT_SECONDS} s) twice, ` +
    `well within the timeout. ` +
    (nftMode(lab.config)
      ? `Each endpoint's affinity set holds ${SET_SIZE} addresses (the lab sets its size; kube-proxy leaves it at the ` +
        `kernel's 65535). A full set evicts nothing: the addresses beyond it are simply not pinned, and coming back ` +
        `they are picked at random again: watch the violations counter and the event log, where each violation says ` +
        `cause setFull (the agent saw the set full when the client was not in it).`
      : `Each endpoint's xt_recent list holds ${listCapacity()} addresses (ip_list_tot); the ` +
        `addresses beyond that push the oldest ones out. An evicted client coming back is picked at random again: ` +
        `watch the violations counter and the event log, where each violation says cause listFull (the agent saw the ` +
        `client's entry vanish from a full list before its timeout).`),
  answer(report, ev, lab) {
    const s = serviceIn(report, STICKY);
    const v = s?.affinityVerdicts;
    const nft = nftMode(lab.config);
    const evicted = ev.round1.length - new Set(Object.values(ev.pinnedBefore).flat()).size;
    return [
      `${STICKY} (${s?.service ?? 'not in the report'}): ${s?.selections ?? 0} selections from ${s?.clients.length ?? 0} clients; ${nft ? 'sets' : 'lists'} hold ${ev.capacity} each`,
      ...table(
        ['pod', 'selections', 'clients', `${nft ? 'in its set' : 'listed'} after round 1`],
        (s?.backends ?? []).map((b) => [
          podOf(lab, b.backend),
          b.selections,
          b.clients,
          ev.pinnedBefore[podOf(lab, b.backend)]?.length ?? 0,
        ]),
      ),
      nft
        ? `  ${evicted} addresses were never pinned: their pod's set was full in round 1`
        : `  ${evicted} addresses were evicted from full lists after round 1`,
      `  held ${v?.held ?? 0}, violation ${v?.violation ?? 0} (listFull ${v?.violationCauses.listFull ?? 0}, setFull ${v?.violationCauses.setFull ?? 0}, unknown ${v?.violationCauses.unknown ?? 0}), compliance ${num(v?.compliance)}`,
    ];
  },
};
