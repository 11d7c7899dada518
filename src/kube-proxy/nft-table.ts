// Reading kube-proxy's nftables table (`nft -j list table`): its chains, rules and sets, and what the chains a Service
// goes to reach (the DNATs, the affinity sets checked and updated). A rule, set or chain reference it does not
// understand is skipped and named (`Table.skipped`); only output that is not nft's JSON at all is an error.
import { isIP } from 'node:net';
import { InputError } from '../core/errors.js';
import type { Proto } from '../core/event.js';
import { canonicalIp } from '../core/ip.js';
/** A read of the nftables table that is not nft's JSON at all; the message names what was seen. */
export class NftParseError extends InputError {}

/** kube-proxy's dynamic sets are capped by the kernel at this many elements when they declare no size. */
export const NFT_DEFAULT_SET_SIZE = 65535;

export type Json = Record<string, unknown>;

export interface NftSet {
  name: string;
  timeout: number | null;
  size: number | null;
  elem: unknown[];
}

interface Chain {
  /** `nat`, `filter`, ... for a base chain (one with a hook); null for a regular chain. */
  type: string | null;
}

export interface Table {
  chains: Map<string, Chain>;
  rules: Map<string, Json[][]>;
  sets: Map<string, NftSet>;
  /** What was not understood and left out, one line each. */
  skipped: string[];
}

export const protos = new Set<Proto>(['tcp', 'udp', 'sctp']);
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

export const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const describe = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 160);

/** Thrown inside one rule or element, caught where that object is skipped. */
export class Skip extends Error {}

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
export function readTable(text: string): Table {
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
export function nameOf(chain: string): string | null {
  const m = /^[a-z]+-[A-Z2-7]{8}-([^/]+)\/([^/]+)\/[a-z]+\/([^_/]*)(?:__.*)?$/.exec(chain);
  if (!m) return null;
  return `${m[1]}/${m[2]}${m[3] ? `:${m[3]}` : ''}`;
}

/** kube-proxy's element comment, "ns/name:port" (or "ns/name"); anything else names nothing. */
export const commentName = (c: unknown) => (typeof c === 'string' && /^[^/\s]+\/[^/\s]+$/.test(c) ? c : null);

/** A set reference "@name", checked to exist. */
export function setRef(t: Table, ref: unknown, where: string): NftSet | null {
  if (typeof ref !== 'string' || !ref.startsWith('@')) return null;
  const set = t.sets.get(ref.slice(1));
  if (!set) throw new Skip(`${where} names set ${ref}, which the table does not have (changed mid-read?)`);
  return set;
}

export const isPayload = (v: unknown, proto: string, field: string) =>
  isObj(v) && isObj(v.payload) && v.payload.protocol === proto && v.payload.field === field;

/** `ip saddr` or `ip6 saddr` (daddr): the two tables differ in nothing else kube-proxy's chains use. */
export const isAddr = (v: unknown, field: 'saddr' | 'daddr') => isPayload(v, 'ip', field) || isPayload(v, 'ip6', field);

export function target(verdict: unknown): string | null {
  if (!isObj(verdict)) return null;
  const v = (isObj(verdict.goto) ? verdict.goto : isObj(verdict.jump) ? verdict.jump : null) as Json | null;
  return v && typeof v.target === 'string' ? v.target : null;
}

export interface Reach {
  endpoints: string[];
  /** Affinity sets checked (`ip saddr @set`, `ip6 saddr @set`) on the way. */
  checked: NftSet[];
  /** Chains that DNAT, with the affinity set each one updates. */
  dnatChains: { chain: string; endpoint: string; updates: NftSet[] }[];
}

export const isPort = (p: unknown): p is number => typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535;

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
export function walk(t: Table, start: string): Reach {
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
