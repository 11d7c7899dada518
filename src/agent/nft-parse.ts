// kube-proxy's nftables mode (`nft -j list table ip kube-proxy`, or `ip6 kube-proxy`) to the same catalog the iptables rules give: Services
// from the dispatch verdict map, endpoints from the DNATs their chains reach (through endpoint chains, or 1.36's inline
// `numgen` maps), affinity from the `ip saddr @set` checks and the sets' timeouts. Anything it does not understand in
// those chains fails the whole read, so a half-understood table never replaces a good catalog.
import { isIP } from 'node:net';
import { InputError } from '../core/errors.js';
import type { Proto, ServiceInfo } from '../core/event.js';
import { canonicalIp } from '../core/ip.js';
import type { NatCatalog, NodePortInfo, RecentList } from './rules-parse.js';

/** What a read of the nftables table could not make sense of; the message names it. Bad input from the node. */
export class NftParseError extends InputError {}

/** kube-proxy's dynamic sets are capped by the kernel at this many elements when they declare no size. */
const NFT_DEFAULT_SET_SIZE = 65535;

type Json = Record<string, unknown>;

interface NftSet {
  name: string;
  timeout: number | null;
  size: number | null;
  map: string | null;
  elem: unknown[];
}

interface Table {
  chains: Set<string>;
  rules: Map<string, Json[][]>;
  sets: Map<string, NftSet>;
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
const describe = (v: unknown) => JSON.stringify(v).slice(0, 160);

function fail(what: string): never {
  throw new NftParseError(`nftables table not understood: ${what}`);
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
  const t: Table = { chains: new Set(), rules: new Map(), sets: new Map() };
  for (const item of items) {
    if (!isObj(item)) fail(`expected objects in the "nftables" array; got ${describe(item)}`);
    if (isObj(item.chain) && typeof item.chain.name === 'string') t.chains.add(item.chain.name);
    const set = isObj(item.set) ? item.set : isObj(item.map) ? item.map : null;
    if (set && typeof set.name === 'string') {
      t.sets.set(set.name, {
        name: set.name,
        timeout: typeof set.timeout === 'number' ? set.timeout : null,
        size: typeof set.size === 'number' ? set.size : null,
        map: typeof set.map === 'string' ? set.map : null,
        elem: Array.isArray(set.elem) ? set.elem : [],
      });
    }
    if (isObj(item.rule)) {
      const { chain, expr } = item.rule;
      if (typeof chain !== 'string' || !Array.isArray(expr))
        fail(`a rule without chain or expr: ${describe(item.rule)}`);
      const list = t.rules.get(chain) ?? [];
      list.push(expr as Json[]);
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

/** A set reference "@name", checked to exist. */
function setRef(t: Table, ref: unknown, where: string): NftSet | null {
  if (typeof ref !== 'string' || !ref.startsWith('@')) return null;
  const set = t.sets.get(ref.slice(1));
  if (!set) fail(`${where} names set ${ref}, which the table does not have (changed mid-read?)`);
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

/** "10.1.1.2" . 8080 as JSON ("10.1.1.2", 8080) -> "10.1.1.2:8080"; "fd00::2" . 8080 -> "[fd00::2]:8080". */
function endpointOf(addr: unknown, port: unknown, where: string): string {
  if (typeof addr !== 'string' || isIP(addr) === 0 || !isPort(port))
    fail(`${where}: a dnat to ${describe([addr, port])}`);
  return addr.includes(':') ? `[${canonicalIp(addr)}]:${port}` : `${addr}:${port}`;
}

const isPort = (p: unknown): p is number => typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535;

function dnatTargets(d: Json, where: string): string[] {
  if (typeof d.addr === 'string') return [endpointOf(d.addr, d.port, where)];
  const map = isObj(d.addr) && isObj(d.addr.map) ? d.addr.map : null;
  const data = map && isObj(map.data) ? map.data.set : undefined;
  if (!Array.isArray(data)) fail(`${where}: a dnat of unknown shape ${describe(d)}`);
  return data.map((pair) => {
    const value = Array.isArray(pair) && isObj(pair[1]) ? pair[1].concat : undefined;
    if (!Array.isArray(value) || value.length !== 2) fail(`${where}: a dnat map element ${describe(pair)}`);
    return endpointOf(value[0], value[1], where);
  });
}

/** Endpoints and affinity of everything reachable from `start`. */
function walk(t: Table, start: string): Reach {
  const out: Reach = { endpoints: [], checked: [], dnatChains: [] };
  const seen = new Set<string>();
  const queue = [start];
  const follow = (next: string | null, where: string) => {
    if (next === null) return;
    if (!t.chains.has(next)) fail(`${where} goes to chain ${next}, which the table does not have (changed mid-read?)`);
    queue.push(next);
  };
  // Breadth first, so endpoints come in the order the rules list them.
  for (let i = 0; i < queue.length; i++) {
    const chain = queue[i]!;
    if (seen.has(chain)) continue;
    seen.add(chain);
    // kube-proxy updates the set in the rule before its DNAT: what a chain updates goes with the DNAT it ends in.
    const updates: NftSet[] = [];
    for (const expr of t.rules.get(chain) ?? []) {
      for (const stmt of expr) {
        const key = isObj(stmt) ? Object.keys(stmt)[0] : undefined;
        const body = key !== undefined ? (stmt as Json)[key] : undefined;
        const where = `chain ${chain}`;
        if (key === 'match' && isObj(body)) {
          const set = setRef(t, body.right, where);
          if (set && isAddr(body.left, 'saddr') && body.op === '==') out.checked.push(set);
        } else if (key === 'jump' || key === 'goto') {
          follow(target(stmt), where);
        } else if (key === 'vmap' && isObj(body)) {
          const named = setRef(t, body.data, where);
          const pairs = named ? named.elem : isObj(body.data) ? body.data.set : undefined;
          if (!Array.isArray(pairs)) fail(`${where}: a vmap of unknown shape ${describe(body)}`);
          for (const pair of pairs) follow(Array.isArray(pair) ? target(pair[1]) : null, where);
        } else if (key === 'set' && isObj(body)) {
          const set = setRef(t, body.set, where);
          if (set && (body.op === 'update' || body.op === 'add') && isAddr(body.elem, 'saddr')) updates.push(set);
        } else if (key === 'dnat' && isObj(body)) {
          const eps = dnatTargets(body, where);
          for (const e of eps) if (!out.endpoints.includes(e)) out.endpoints.push(e);
          if (eps.length === 1) out.dnatChains.push({ chain, endpoint: eps[0]!, updates });
        } else if (key === undefined || !inert.has(key)) {
          fail(`${where}: unknown statement ${describe(stmt)} (from a newer kube-proxy?)`);
        }
      }
    }
  }
  return out;
}

/** The dispatch maps: the verdict maps keyed by (daddr . l4proto . dport) and by (l4proto . dport). */
function dispatchMaps(t: Table): { services: NftSet[]; nodePorts: NftSet[] } {
  const out = { services: [] as NftSet[], nodePorts: [] as NftSet[] };
  for (const [chain, rules] of t.rules) {
    for (const expr of rules) {
      for (const stmt of expr) {
        const v = isObj(stmt) && isObj(stmt.vmap) ? stmt.vmap : null;
        const key = v && isObj(v.key) && Array.isArray(v.key.concat) ? v.key.concat : null;
        const map = key ? setRef(t, v!.data, `chain ${chain}`) : null;
        if (!map || !key) continue;
        const l4 = key.some((k) => isObj(k) && isObj(k.meta) && k.meta.key === 'l4proto');
        const dport = key.some((k) => isPayload(k, 'th', 'dport'));
        if (!l4 || !dport) continue;
        if (key.length === 3 && isAddr(key[0], 'daddr')) out.services.push(map);
        else if (key.length === 2) out.nodePorts.push(map);
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

/** Elements of a verdict map as [key parts, target chain]. */
function entries(map: NftSet): [unknown[], string][] {
  const out: [unknown[], string][] = [];
  for (const pair of map.elem) {
    const key = Array.isArray(pair) && isObj(pair[0]) ? pair[0].concat : undefined;
    const to = Array.isArray(pair) ? target(pair[1]) : null;
    if (!Array.isArray(key) || to === null) fail(`map ${map.name}: an element of unknown shape ${describe(pair)}`);
    out.push([key, to]);
  }
  return out;
}

export function parseNftCatalog(text: string): NatCatalog {
  const t = readTable(text);
  const maps = dispatchMaps(t);
  const services = new Map<string, ServiceInfo>();
  const lists = new Map<string, RecentList>();
  for (const map of maps.services) {
    for (const [[ip, proto, port], chain] of entries(map)) {
      if (typeof ip !== 'string' || isIP(ip) === 0 || !protos.has(proto as Proto) || !isPort(port))
        fail(`map ${map.name}: an element keyed ${describe([ip, proto, port])}`);
      if (!t.chains.has(chain)) fail(`map ${map.name} goes to chain ${chain}, which the table does not have`);
      const key = `${ip.includes(':') ? `[${canonicalIp(ip)}]` : ip}:${port}/${proto}`;
      const reach = walk(t, chain);
      services.set(key, {
        service: key,
        name: nameOf(chain) ?? reach.dnatChains.map((d) => nameOf(d.chain)).find((n) => n !== null) ?? null,
        affinity: affinityOf(reach),
        endpoints: reach.endpoints,
      });
      for (const d of reach.dnatChains) {
        for (const set of d.updates) {
          if (lists.has(set.name)) continue;
          lists.set(set.name, {
            endpoint: d.endpoint,
            service: key,
            timeoutSeconds: set.timeout,
            size: set.size ?? NFT_DEFAULT_SET_SIZE,
          });
        }
      }
    }
  }
  const nodePorts = new Map<string, NodePortInfo>();
  for (const map of maps.nodePorts) {
    for (const [[proto, port], chain] of entries(map)) {
      if (!protos.has(proto as Proto) || !isPort(port))
        fail(`map ${map.name}: an element keyed ${describe([proto, port])}`);
      if (!t.chains.has(chain)) fail(`map ${map.name} goes to chain ${chain}, which the table does not have`);
      const reach = walk(t, chain);
      const name = nameOf(chain);
      if (name === null) continue;
      nodePorts.set(`${port}/${proto}`, { name, affinity: affinityOf(reach), endpoints: reach.endpoints });
    }
  }
  return {
    mode: 'nftables',
    services: [...services.values()].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0)),
    lists,
    nodePorts,
  };
}
