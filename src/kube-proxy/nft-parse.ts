// kube-proxy's nftables mode (`nft -j list table ip kube-proxy`, or `ip6 kube-proxy`) to the same catalog the iptables rules give: Services
// from the dispatch verdict maps the nat chains use, endpoints from the DNATs their chains reach (through endpoint
// chains, or 1.36's inline `numgen` maps), affinity from the `ip saddr @set` checks and the sets' timeouts, and
// Services without endpoints from the verdict maps the filter chains use (`no-endpoint-services`,
// `no-endpoint-nodeports`: `drop`, or `goto reject-chain`).
// Robust by design: a rule, element or reference it does not understand is skipped and named in `skipped`, so one
// object from a newer kube-proxy never takes the Services it does understand down with it. Only output that is not an
// nft JSON document at all fails the read.
import { isIP } from 'node:net';
import type { Proto, ServiceInfo } from '../core/event.js';
import { canonicalIp } from '../core/ip.js';
import type { NatCatalog, NodePortInfo, RecentList } from './iptables-parse.js';

import {
  NFT_DEFAULT_SET_SIZE,
  Skip,
  commentName,
  describe,
  isAddr,
  isObj,
  isPayload,
  isPort,
  nameOf,
  protos,
  readTable,
  setRef,
  target,
  walk,
  type Json,
  type NftSet,
  type Reach,
  type Table,
} from './nft-table.js';

export { NftParseError } from './nft-table.js';
type Hooked = 'nat' | 'filter';

interface VerdictMap {
  map: NftSet;
  /** 3: keyed by (daddr . l4proto . dport), a Service address; 2: by (l4proto . dport), a NodePort. */
  width: 2 | 3;
  /** The kind of base chain that reaches it: nat (where Services are routed) or filter (where they are refused). */
  from: Hooked;
}

/** The verdict map a `vmap` statement uses, if keyed like kube-proxy's dispatch maps. */
function keyedMap(t: Table, stmt: Json, where: string): { map: NftSet; width: 2 | 3 } | null {
  const v = isObj(stmt.vmap) ? stmt.vmap : null;
  const key = v && isObj(v.key) && Array.isArray(v.key.concat) ? v.key.concat : null;
  if (!v || !key) return null;
  const l4 = key.some((k) => isObj(k) && isObj(k.meta) && k.meta.key === 'l4proto');
  const dport = key.some((k) => isPayload(k, 'th', 'dport'));
  if (!l4 || !dport) return null;
  const map = setRef(t, v.data, where);
  if (!map) return null;
  if (key.length === 3 && isAddr(key[0], 'daddr')) return { map, width: 3 };
  return key.length === 2 ? { map, width: 2 } : null;
}

/**
 * The maps kube-proxy dispatches on, found from the base chains down through jumps: those the nat chains reach route
 * Services, those the filter chains reach refuse them. A table with no base chains (a hand-written one) is read as
 * if every chain were a nat one.
 */
function verdictMaps(t: Table): VerdictMap[] {
  const out: VerdictMap[] = [];
  const hooked = [...t.chains].filter(([, c]) => c.type === 'nat' || c.type === 'filter');
  const roots: [string, Hooked][] =
    hooked.length > 0 ? hooked.map(([n, c]) => [n, c.type as Hooked]) : [...t.rules.keys()].map((n) => [n, 'nat']);
  const seen = new Set<string>();
  const queue = roots;
  for (let i = 0; i < queue.length; i++) {
    const [chain, from] = queue[i]!;
    if (seen.has(`${from} ${chain}`)) continue;
    seen.add(`${from} ${chain}`);
    for (const expr of t.rules.get(chain) ?? []) {
      for (const stmt of expr) {
        const to = target(stmt);
        if (to !== null && t.chains.has(to)) queue.push([to, from]);
        let m: ReturnType<typeof keyedMap> = null;
        try {
          m = keyedMap(t, stmt, `chain ${chain}`);
        } catch (err) {
          if (!(err instanceof Skip)) throw err;
          t.skipped.push(err.message);
        }
        if (m && !out.some((o) => o.map === m.map && o.from === from)) out.push({ ...m, from });
      }
    }
  }
  return out;
}

function affinityOf(r: Reach): ServiceInfo['affinity'] {
  const timeouts = r.checked.map((s) => s.timeout ?? 0);
  const t = timeouts.length > 0 ? Math.max(...timeouts) : 0;
  return { mode: r.checked.length > 0 ? 'ClientIP' : 'None', timeoutSeconds: t > 0 ? t : null, source: 'rules' };
}

/** What a verdict map's element does: go to a chain, or refuse the connection (`drop`, or a chain that rejects). */
type Verdict = { chain: string } | { refuse: 'drop' | 'reject' };

/**
 * How a chain refuses what reaches it: by a rule that is nothing but `reject` (or `drop`), counted or not, as
 * kube-proxy's `reject-chain` is; null if it has none (a rule it does not understand beside it changes nothing).
 */
function refusalIn(t: Table, chain: string): 'drop' | 'reject' | null {
  for (const expr of t.rules.get(chain) ?? []) {
    const kinds = expr.map((stmt) => Object.keys(stmt)[0]).filter((k) => k !== 'counter');
    if (kinds.length === 1 && (kinds[0] === 'reject' || kinds[0] === 'drop')) return kinds[0];
  }
  return null;
}

interface Element {
  key: unknown[];
  name: string | null;
  verdict: Verdict;
}

/** One element of a verdict map: its key parts, the comment kube-proxy names the Service in, what it decides. */
function elementOf(t: Table, map: NftSet, pair: unknown): Element {
  const bad = () => new Skip(`map ${map.name}: an element of unknown shape ${describe(pair)}`);
  if (!Array.isArray(pair) || pair.length !== 2) throw bad();
  // A commented element is {"elem": {"val": KEY, "comment": ...}}; a plain one is the key itself.
  const wrapped = isObj(pair[0]) && isObj(pair[0].elem) ? pair[0].elem : null;
  const val = wrapped ? wrapped.val : pair[0];
  const key = isObj(val) ? val.concat : undefined;
  if (!Array.isArray(key)) throw bad();
  const name = commentName(wrapped?.comment);
  const v = pair[1];
  if (isObj(v) && Object.keys(v).length === 1 && 'drop' in v) return { key, name, verdict: { refuse: 'drop' } };
  const to = target(v);
  if (to === null) throw bad();
  if (!t.chains.has(to)) throw new Skip(`map ${map.name} goes to chain ${to}, which the table does not have`);
  const refuse = refusalIn(t, to);
  return { key, name, verdict: refuse ? { refuse } : { chain: to } };
}

/** "10.96.0.10:80/tcp" ("[fd00::10]:80/tcp") from a map key, or why it is not one. */
function serviceKey(map: NftSet, [ip, proto, port]: unknown[]): string {
  if (typeof ip !== 'string' || isIP(ip) === 0 || !protos.has(proto as Proto) || !isPort(port))
    throw new Skip(`map ${map.name}: an element keyed ${describe([ip, proto, port])}`);
  return `${ip.includes(':') ? `[${canonicalIp(ip)}]` : ip}:${port}/${proto}`;
}

function nodePortKey(map: NftSet, [proto, port]: unknown[]): string {
  if (!protos.has(proto as Proto) || !isPort(port))
    throw new Skip(`map ${map.name}: an element keyed ${describe([proto, port])}`);
  return `${port}/${proto}`;
}

interface Building {
  t: Table;
  services: Map<string, ServiceInfo>;
  lists: Map<string, RecentList>;
  nodePorts: Map<string, NodePortInfo>;
}

function addRoute(b: Building, key: string, chain: string): void {
  const reach = walk(b.t, chain);
  b.services.set(key, {
    service: key,
    name: nameOf(chain) ?? reach.dnatChains.map((d) => nameOf(d.chain)).find((n) => n !== null) ?? null,
    affinity: affinityOf(reach),
    endpoints: reach.endpoints,
  });
  for (const d of reach.dnatChains) {
    for (const set of d.updates) {
      if (b.lists.has(set.name)) continue;
      b.lists.set(set.name, {
        endpoint: d.endpoint,
        service: key,
        timeoutSeconds: set.timeout,
        size: set.size ?? NFT_DEFAULT_SET_SIZE,
      });
    }
  }
}

/**
 * A Service kube-proxy refuses at this address: none of its endpoints is ready (or, for an external address of a Local
 * Service, none is on this node). A route it also has (pods short-circuit to the cluster-wide endpoints) stays.
 */
function addRefused(b: Building, key: string, name: string | null, how: 'drop' | 'reject'): void {
  const had = b.services.get(key);
  if (had) {
    had.noEndpoints = how;
    had.name ??= name;
    return;
  }
  const affinity: ServiceInfo['affinity'] = { mode: 'None', timeoutSeconds: null, source: 'rules' };
  b.services.set(key, { service: key, name, affinity, endpoints: [], noEndpoints: how });
}

function addNodePort(b: Building, key: string, e: Element): void {
  if ('chain' in e.verdict) {
    const name = nameOf(e.verdict.chain);
    if (name === null) return;
    const reach = walk(b.t, e.verdict.chain);
    b.nodePorts.set(key, { name, affinity: affinityOf(reach), endpoints: reach.endpoints });
    return;
  }
  const had = b.nodePorts.get(key);
  if (had) had.noEndpoints = e.verdict.refuse;
  else if (e.name !== null) {
    const affinity: ServiceInfo['affinity'] = { mode: 'None', timeoutSeconds: null, source: 'rules' };
    b.nodePorts.set(key, { name: e.name, affinity, endpoints: [], noEndpoints: e.verdict.refuse });
  }
}

/** Each element of one map into the catalog; an element not understood is skipped and named. */
function readMap(b: Building, m: VerdictMap): void {
  for (const pair of m.map.elem) {
    try {
      const e = elementOf(b.t, m.map, pair);
      // A filter chain's map that goes to a chain is a firewall (LoadBalancerSourceRanges), not a route.
      if (m.from === 'filter' && 'chain' in e.verdict) continue;
      if (m.width === 2) {
        if (e.key.length !== 2) throw new Skip(`map ${m.map.name}: an element of unknown shape ${describe(pair)}`);
        addNodePort(b, nodePortKey(m.map, e.key), e);
      } else {
        if (e.key.length !== 3) throw new Skip(`map ${m.map.name}: an element of unknown shape ${describe(pair)}`);
        const key = serviceKey(m.map, e.key);
        if ('chain' in e.verdict) addRoute(b, key, e.verdict.chain);
        else addRefused(b, key, e.name, e.verdict.refuse);
      }
    } catch (err) {
      if (!(err instanceof Skip)) throw err;
      b.t.skipped.push(err.message);
    }
  }
}

export function parseNftCatalog(text: string): NatCatalog {
  const t = readTable(text);
  const b: Building = { t, services: new Map(), lists: new Map(), nodePorts: new Map() };
  const maps = verdictMaps(t);
  // Routes first, so a refusal at the same address marks the route rather than replacing it.
  for (const m of maps) if (m.from === 'nat') readMap(b, m);
  for (const m of maps) if (m.from === 'filter') readMap(b, m);
  return {
    mode: 'nftables',
    services: [...b.services.values()].sort((x, y) => (x.service < y.service ? -1 : x.service > y.service ? 1 : 0)),
    lists: b.lists,
    nodePorts: b.nodePorts,
    skipped: [...new Set(t.skipped)],
  };
}
