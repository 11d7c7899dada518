// kube-proxy's nftables mode (`nft -j list table ip kube-proxy`, or `ip6 kube-proxy`) to the same catalog the iptables rules give: Services
// from the dispatch verdict maps the nat chains use, endpoints from the DNATs their chains reach (through endpoint
// chains, or 1.36's inline `numgen` maps), affinity from the `ip saddr @set` checks and the sets' timeouts, and
// Services without endpoints from the verdict maps the filter chains use (`no-endpoint-services`,
// `no-endpoint-nodeports`: `drop`, or `goto reject-chain`).
// Robust by design: a rule, element or reference it does not understand is skipped and named in `skipped`, so one
// object from a newer kube-proxy never takes the Services it does understand down with it. Only output that is not an
// nft JSON document at all fails the read.
import { isIP } from 'node:net';
import { InputError } from '../core/errors.js';
import type { Proto, ServiceInfo } from '../core/event.js';
import { canonicalIp } from '../core/ip.js';
import type { NatCatalog, NodePortInfo, RecentList } from './iptables-parse.js';

/** A read of the nftables table that is not nft's JSON at all; the message names what was seen. */
export class NftParseError extends InputError {}

/** kube-proxy's dynamic sets are capped by the kernel at this many elements when they declare no size. */
export const NFT_DEFAULT_SET_SIZE = 65535;

type Json = Record<string, unknown>;

interface NftSet {
  name: string;
  timeout: number | null;
  size: number | null;
  elem: unknown[];
}

interface Chain {
  /** `nat`, `filter`, ... for a base chain (one with a hook); null for a regular chain. */
  type: string | null;
}

interface Table {
  chains: Map<string, Chain>;
  rules: Map<string, Json[][]>;
  sets: Map<string, NftSet>;
  /** What was not understood and left out, one line each. */
  skipped: string[];
}

const protos = new Set<Proto>(['tcp', 'udp', 'sctp']);
/** Statements that decide nothing about where a connection goes (marking, masquerade, counting, ending a chain). */
const inert = new Set([
  'mangle',
  'masquerade',
  'snat',
  'counter',
  'return',
  'accept',
  'drop',
  'reject',
  'log',
  'notrack',
  'limit',
  'continue',
]);

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 160);

/** Thrown inside one rule or element, caught where that object is skipped. */
class Skip extends Error {}

function fail(what: string): never {
  throw new NftParseError(`nftables table not understood: ${what}`);
}

function readSet(set: Json): NftSet {
  return {
    name: set.name as string,
    timeout: typeof set.timeout === 'number' ? set.timeout : null,
    size: typeof set.size === 'number' ? set.size : null,
    elem: Array.isArray(set.elem) ? set.elem : [],
  };
}

/** The table's chains, rules and sets, from `nft -j list table` output. */
function readTable(text: string): Table {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    fail(`output is not JSON (${(err as Error).message}); a read cut short?`);
  }
  const items = isObj(doc) ? doc.nftables : undefined;
  if (!Array.isArray(items)) fail(`expected an object with an "nftables" array; got ${describe(doc)}`);
  const t: Table = { chains: new Map(), rules: new Map(), sets: new Map(), skipped: [] };
  for (const item of items) {
    if (!isObj(item)) {
      t.skipped.push(`an item of unknown shape ${describe(item)}`);
      continue;
    }
    if (isObj(item.chain) && typeof item.chain.name === 'string') {
      const hooked = typeof item.chain.hook === 'string' && typeof item.chain.type === 'string';
      t.chains.set(item.chain.name, { type: hooked ? (item.chain.type as string) : null });
    }
    const set = isObj(item.set) ? item.set : isObj(item.map) ? item.map : null;
    if (set && typeof set.name === 'string') t.sets.set(set.name, readSet(set));
    if (isObj(item.rule)) {
      const { chain, expr } = item.rule;
      if (typeof chain !== 'string' || !Array.isArray(expr) || !expr.every(isObj)) {
        t.skipped.push(`a rule of unknown shape ${describe(item.rule)}`);
        continue;
      }
      const list = t.rules.get(chain) ?? [];
      list.push(expr);
      t.rules.set(chain, list);
    }
  }
  return t;
}

/** "service-HASH-ns/name/tcp/port" (or external-, endpoint-) -> "ns/name:port", "ns/name" for an unnamed port. */
function nameOf(chain: string): string | null {
  const m = /^[a-z]+-[A-Z2-7]{8}-([^/]+)\/([^/]+)\/[a-z]+\/([^_/]*)(?:__.*)?$/.exec(chain);
  if (!m) return null;
  return `${m[1]}/${m[2]}${m[3] ? `:${m[3]}` : ''}`;
}

/** kube-proxy's element comment, "ns/name:port" (or "ns/name"); anything else names nothing. */
const commentName = (c: unknown) => (typeof c === 'string' && /^[^/\s]+\/[^/\s]+$/.test(c) ? c : null);

/** A set reference "@name", checked to exist. */
function setRef(t: Table, ref: unknown, where: string): NftSet | null {
  if (typeof ref !== 'string' || !ref.startsWith('@')) return null;
  const set = t.sets.get(ref.slice(1));
  if (!set) throw new Skip(`${where} names set ${ref}, which the table does not have (changed mid-read?)`);
  return set;
}

const isPayload = (v: unknown, proto: string, field: string) =>
  isObj(v) && isObj(v.payload) && v.payload.protocol === proto && v.payload.field === field;

/** `ip saddr` or `ip6 saddr` (daddr): the two tables differ in nothing else kube-proxy's chains use. */
const isAddr = (v: unknown, field: 'saddr' | 'daddr') => isPayload(v, 'ip', field) || isPayload(v, 'ip6', field);

function target(verdict: unknown): string | null {
  if (!isObj(verdict)) return null;
  const v = (isObj(verdict.goto) ? verdict.goto : isObj(verdict.jump) ? verdict.jump : null) as Json | null;
  return v && typeof v.target === 'string' ? v.target : null;
}

interface Reach {
  endpoints: string[];
  /** Affinity sets checked (`ip saddr @set`, `ip6 saddr @set`) on the way. */
  checked: NftSet[];
  /** Chains that DNAT, with the affinity set each one updates. */
  dnatChains: { chain: string; endpoint: string; updates: NftSet[] }[];
}

const isPort = (p: unknown): p is number => typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535;

/** "10.1.1.2" . 8080 as JSON ("10.1.1.2", 8080) -> "10.1.1.2:8080"; "fd00::2" . 8080 -> "[fd00::2]:8080". */
function endpointOf(addr: unknown, port: unknown, where: string): string {
  if (typeof addr !== 'string' || isIP(addr) === 0 || !isPort(port))
    throw new Skip(`${where}: a dnat to ${describe([addr, port])}`);
  return addr.includes(':') ? `[${canonicalIp(addr)}]:${port}` : `${addr}:${port}`;
}

function dnatTargets(d: Json, where: string): string[] {
  if (typeof d.addr === 'string') return [endpointOf(d.addr, d.port, where)];
  const map = isObj(d.addr) && isObj(d.addr.map) ? d.addr.map : null;
  const data = map && isObj(map.data) ? map.data.set : undefined;
  if (!Array.isArray(data)) throw new Skip(`${where}: a dnat of unknown shape ${describe(d)}`);
  return data.map((pair) => {
    const value = Array.isArray(pair) && isObj(pair[1]) ? pair[1].concat : undefined;
    if (!Array.isArray(value) || value.length !== 2) throw new Skip(`${where}: a dnat map element ${describe(pair)}`);
    return endpointOf(value[0], value[1], where);
  });
}

/** What one rule of a Service's chains adds to what the Service reaches; throws Skip for a rule not understood. */
interface RuleReach {
  checked: NftSet[];
  updates: NftSet[];
  endpoints: string[];
  next: string[];
}

function readRule(t: Table, expr: Json[], where: string): RuleReach {
  const r: RuleReach = { checked: [], updates: [], endpoints: [], next: [] };
  const follow = (to: string | null) => {
    if (to === null) return;
    if (!t.chains.has(to))
      throw new Skip(`${where} goes to chain ${to}, which the table does not have (changed mid-read?)`);
    r.next.push(to);
  };
  for (const stmt of expr) {
    const key = Object.keys(stmt)[0];
    const body = key !== undefined ? stmt[key] : undefined;
    if (key === 'match' && isObj(body)) {
      const set = setRef(t, body.right, where);
      if (set && isAddr(body.left, 'saddr') && body.op === '==') r.checked.push(set);
    } else if (key === 'jump' || key === 'goto') {
      follow(target(stmt));
    } else if (key === 'vmap' && isObj(body)) {
      const named = setRef(t, body.data, where);
      const pairs = named ? named.elem : isObj(body.data) ? body.data.set : undefined;
      if (!Array.isArray(pairs)) throw new Skip(`${where}: a vmap of unknown shape ${describe(body)}`);
      for (const pair of pairs) follow(Array.isArray(pair) ? target(pair[1]) : null);
    } else if (key === 'set' && isObj(body)) {
      const set = setRef(t, body.set, where);
      if (set && (body.op === 'update' || body.op === 'add') && isAddr(body.elem, 'saddr')) r.updates.push(set);
    } else if (key === 'dnat' && isObj(body)) {
      r.endpoints.push(...dnatTargets(body, where));
    } else if (key === undefined || !inert.has(key)) {
      throw new Skip(`${where}: a rule with an unknown statement ${describe(stmt)} (from a newer kube-proxy?)`);
    }
  }
  return r;
}

/** Endpoints and affinity of everything reachable from `start`; rules not understood are skipped and named. */
function walk(t: Table, start: string): Reach {
  const out: Reach = { endpoints: [], checked: [], dnatChains: [] };
  const seen = new Set<string>();
  const queue = [start];
  // Breadth first, so endpoints come in the order the rules list them.
  for (let i = 0; i < queue.length; i++) {
    const chain = queue[i]!;
    if (seen.has(chain)) continue;
    seen.add(chain);
    // kube-proxy updates the set in the rule before its DNAT: what a chain updates goes with the DNAT it ends in.
    const updates: NftSet[] = [];
    for (const expr of t.rules.get(chain) ?? []) {
      let r: RuleReach;
      try {
        r = readRule(t, expr, `chain ${chain}`);
      } catch (err) {
        if (!(err instanceof Skip)) throw err;
        t.skipped.push(err.message);
        continue;
      }
      out.checked.push(...r.checked);
      updates.push(...r.updates);
      for (const e of r.endpoints) if (!out.endpoints.includes(e)) out.endpoints.push(e);
      if (r.endpoints.length === 1) out.dnatChains.push({ chain, endpoint: r.endpoints[0]!, updates });
      queue.push(...r.next);
    }
  }
  return out;
}

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
