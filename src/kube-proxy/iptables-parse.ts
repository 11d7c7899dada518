// kube-proxy's nat rules (`iptables-save -t nat`, or `iptables -t nat -S`) to what they say about Services: address,
// name, endpoints and ClientIP affinity. Works on the chain graph, not on chain names, so older dumps (KUBE-XLB,
// unnamed ports) and current kube-proxy (hashed names, KUBE-EXT/KUBE-SVL, normalised recent options) read alike.
import type { Proto, ProxyMode, ServiceInfo } from '../core/event.js';
import { canonicalIp } from '../core/ip.js';
import { isIP } from 'node:net';

const isPort = (p: string | undefined): p is string => p !== undefined && /^\d{1,5}$/.test(p) && Number(p) <= 65535;

/** A DNAT target kube-proxy writes: "10.1.1.2:8080" or "[fd00::2]:8080" (ranges and bare addresses are not). */
function endpointOf(dest: string | undefined): string | null {
  if (!dest) return null;
  const i = dest.lastIndexOf(':');
  const host = dest.slice(0, i);
  if (i < 0 || !isPort(dest.slice(i + 1))) return null;
  if (host.startsWith('[') && host.endsWith(']') && isIP(host.slice(1, -1)) === 6)
    return `[${canonicalIp(host.slice(1, -1))}]${dest.slice(i)}`;
  return isIP(host) === 4 ? dest : null;
}

interface Rule {
  /** The table the rule is in (`*nat`, `*filter` in iptables-save's text); nat where the text names none. */
  table: string;
  chain: string;
  /** Tokens after "-A CHAIN", quotes removed. */
  args: string[];
}

/** What an xt_recent list stands for: the endpoint whose KUBE-SEP chain sets it. */
export interface RecentList {
  endpoint: string;
  /** The Service the endpoint belongs to, "ip:port/proto". */
  service: string | null;
  /** The --rcheck --seconds that reads the list (or the nftables set's timeout), if any. */
  timeoutSeconds: number | null;
  /** nftables mode: the set's size, the most clients it pins (xt_recent's is ip_list_tot, read elsewhere). */
  size?: number;
}

/** What a NodePort leads to, on whichever of the node's own addresses it is reached. */
export interface NodePortInfo {
  /** The Service name the rules' comments give. */
  name: string;
  affinity: ServiceInfo['affinity'];
  /** Every endpoint its chains reach (node-local and cluster-wide, as for a load-balancer address). */
  endpoints: string[];
  /** kube-proxy refuses connections to it here: the Service has no endpoints (none on this node, for Local). */
  noEndpoints?: ServiceInfo['noEndpoints'];
}

export interface NatCatalog {
  mode: ProxyMode;
  services: ServiceInfo[];
  /** By list name (KUBE-SEP-..., or the affinity-... set in nftables mode). */
  lists: Map<string, RecentList>;
  /** By NodePort ("31332/tcp"), in the family the rules were read from (IPv4 in a catalog of both families). */
  nodePorts: Map<string, NodePortInfo>;
  /** A catalog of both families (families.ts): the IPv6 rules' NodePorts, reached at the node's IPv6 addresses. */
  nodePorts6?: Map<string, NodePortInfo>;
  /** What the read did not understand and left out, one line each naming it (the agent warns once per line). */
  skipped?: string[];
}

const protos = new Set<Proto>(['tcp', 'udp', 'sctp']);

/** Splits one rule line as iptables-save quotes it ("..." with \" escapes). */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) break;
    let tok = '';
    if (line[i] === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++;
        tok += line[i++];
      }
      i++;
    } else {
      while (i < line.length && line[i] !== ' ' && line[i] !== '\t') tok += line[i++];
    }
    out.push(tok);
  }
  return out;
}

function parseRules(text: string): Rule[] {
  const rules: Rule[] = [];
  let table = 'nat';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    if (!line.startsWith('-A ')) continue;
    const [, chain, ...args] = tokenize(line);
    if (chain) rules.push({ table, chain, args });
  }
  return rules;
}

/** The value after `flag`, unless the flag is negated ("! -s x"). */
function opt(r: Rule, flag: string): string | undefined {
  const i = r.args.indexOf(flag);
  if (i < 0 || r.args[i - 1] === '!') return undefined;
  return r.args[i + 1];
}

const has = (r: Rule, flag: string) => r.args.includes(flag);
const target = (r: Rule) => opt(r, '-j');

/** "ns/name:port" (or "ns/name" for an unnamed port) from a kube-proxy comment. */
function nameIn(comment: string | undefined): string | null {
  const first = comment?.split(' ')[0];
  return first && /^[^/\s]+\/[^/\s]+$/.test(first) ? first : null;
}

/** "10.96.0.10/32" -> "10.96.0.10", "fd00::10/128" -> "[fd00::10]"; wider prefixes are not one address. */
function hostAddr(cidr: string): string | null {
  const [ip, len] = cidr.split('/');
  if (!ip || isIP(ip) === 0) return null;
  const v6 = ip.includes(':');
  if (len !== undefined && len !== (v6 ? '128' : '32')) return null;
  return v6 ? `[${canonicalIp(ip)}]` : ip;
}

interface Reach {
  endpoints: string[];
  timeoutSeconds: number | null;
  name: string | null;
  /** Chains that DNAT (the KUBE-SEP chains, whatever their names). */
  endpointChains: string[];
}

/** Endpoints and affinity of everything reachable from `start`. */
function walk(start: string, byChain: Map<string, Rule[]>): Reach {
  const out: Reach = { endpoints: [], timeoutSeconds: null, name: null, endpointChains: [] };
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const chain = stack.pop()!;
    if (seen.has(chain)) continue;
    seen.add(chain);
    for (const r of byChain.get(chain) ?? []) {
      out.name ??= nameIn(opt(r, '--comment'));
      const dest = endpointOf(opt(r, '--to-destination'));
      if (target(r) === 'DNAT' && dest) {
        if (!out.endpoints.includes(dest)) out.endpoints.push(dest);
        out.endpointChains.push(chain);
      }
      const seconds = has(r, '--rcheck') ? opt(r, '--seconds') : undefined;
      if (seconds !== undefined) out.timeoutSeconds = Math.max(out.timeoutSeconds ?? 0, Number(seconds));
      const next = target(r);
      if (next && byChain.has(next) && !next.startsWith('KUBE-MARK-')) stack.push(next);
    }
  }
  return out;
}

export function parseNatCatalog(text: string): NatCatalog {
  const all = parseRules(text);
  const rules = all.filter((r) => r.table === 'nat');
  const skipped: string[] = [];
  const byChain = new Map<string, Rule[]>();
  for (const r of rules) {
    const list = byChain.get(r.chain);
    if (list) list.push(r);
    else byChain.set(r.chain, [r]);
  }
  const { services, serviceOfChain } = servicesOf(byChain, skipped);
  const lists = recentLists(rules, serviceOfChain);
  const nodePorts = nodePortsOf(byChain);
  for (const r of all) if (r.table === 'filter') refusal(r, services, nodePorts);
  return {
    mode: 'iptables',
    services: [...services.values()].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0)),
    lists,
    nodePorts,
    skipped: [...new Set(skipped)],
  };
}

/**
 * The Services KUBE-SERVICES routes, by "ip:port/proto", and the Service each endpoint (DNAT) chain serves. Jumps to
 * chains the rules lack are noted in `skipped`.
 */
function servicesOf(
  byChain: Map<string, Rule[]>,
  skipped: string[],
): { services: Map<string, ServiceInfo>; serviceOfChain: Map<string, string> } {
  const services = new Map<string, ServiceInfo>();
  const serviceOfChain = new Map<string, string>();
  for (const r of byChain.get('KUBE-SERVICES') ?? []) {
    const next = target(r);
    const d = opt(r, '-d');
    const proto = opt(r, '-p') as Proto | undefined;
    const port = opt(r, '--dport');
    if (!next || next.startsWith('KUBE-MARK-') || !d || !proto || !protos.has(proto) || !isPort(port)) continue;
    if (!byChain.has(next)) {
      if (next.startsWith('KUBE-')) skipped.push(`KUBE-SERVICES jumps to ${next}, which the rules do not have`);
      continue;
    }
    const ip = hostAddr(d);
    if (!ip) continue;
    const key = `${ip}:${port}/${proto}`;
    const reach = walk(next, byChain);
    const name = nameIn(opt(r, '--comment')) ?? reach.name;
    const prev = services.get(key);
    const endpoints = prev ? [...new Set([...prev.endpoints, ...reach.endpoints])] : reach.endpoints;
    const timeout = Math.max(prev?.affinity.timeoutSeconds ?? 0, reach.timeoutSeconds ?? 0) || null;
    services.set(key, {
      service: key,
      name: prev?.name ?? name,
      affinity: { mode: timeout !== null ? 'ClientIP' : 'None', timeoutSeconds: timeout, source: 'rules' },
      endpoints,
    });
    for (const c of reach.endpointChains) if (!serviceOfChain.has(c)) serviceOfChain.set(c, key);
  }
  return { services, serviceOfChain };
}

/** The xt_recent lists the endpoint chains set, by name, with the longest --rcheck --seconds that reads each. */
function recentLists(rules: Rule[], serviceOfChain: Map<string, string>): Map<string, RecentList> {
  const checkSeconds = new Map<string, number>();
  for (const r of rules) {
    const name = opt(r, '--name');
    const seconds = opt(r, '--seconds');
    if (has(r, '--rcheck') && name && seconds)
      checkSeconds.set(name, Math.max(checkSeconds.get(name) ?? 0, Number(seconds)));
  }
  const lists = new Map<string, RecentList>();
  for (const r of rules) {
    const name = opt(r, '--name');
    const dest = endpointOf(opt(r, '--to-destination'));
    if (!has(r, '--set') || !name || target(r) !== 'DNAT' || !dest) continue;
    lists.set(name, {
      endpoint: dest,
      service: serviceOfChain.get(r.chain) ?? null,
      timeoutSeconds: checkSeconds.get(name) ?? null,
    });
  }
  return lists;
}

/** What each NodePort in KUBE-NODEPORTS leads to, by "port/proto". */
function nodePortsOf(byChain: Map<string, Rule[]>): Map<string, NodePortInfo> {
  const nodePorts = new Map<string, NodePortInfo>();
  for (const r of byChain.get('KUBE-NODEPORTS') ?? []) {
    const proto = opt(r, '-p');
    const port = opt(r, '--dport');
    const next = target(r);
    if (
      !proto ||
      !protos.has(proto as Proto) ||
      !isPort(port) ||
      !next ||
      next.startsWith('KUBE-MARK-') ||
      !byChain.has(next)
    )
      continue;
    const reach = walk(next, byChain);
    const name = nameIn(opt(r, '--comment')) ?? reach.name;
    if (!name) continue;
    const t = reach.timeoutSeconds;
    nodePorts.set(`${port}/${proto}`, {
      name,
      affinity: { mode: t !== null ? 'ClientIP' : 'None', timeoutSeconds: t, source: 'rules' },
      endpoints: reach.endpoints,
    });
  }
  return nodePorts;
}

/**
 * A filter-table rule kube-proxy writes for a Service it refuses here ("ns/name:port has no endpoints" -j REJECT, or
 * "has no local endpoints" -j DROP for a Local one; KUBE-SERVICES, KUBE-EXTERNAL-SERVICES): the address (or, with
 * `--dst-type LOCAL`, the NodePort) marked, added with no endpoints when the nat rules do not route it.
 */
function refusal(r: Rule, services: Map<string, ServiceInfo>, nodePorts: Map<string, NodePortInfo>): void {
  const how = target(r) === 'REJECT' ? 'reject' : target(r) === 'DROP' ? 'drop' : null;
  const comment = opt(r, '--comment') ?? '';
  const name = nameIn(comment);
  const proto = opt(r, '-p') as Proto | undefined;
  const port = opt(r, '--dport');
  if (!how || !name || !/ has no (local )?endpoints$/.test(comment) || !proto || !protos.has(proto) || !isPort(port))
    return;
  const affinity: ServiceInfo['affinity'] = { mode: 'None', timeoutSeconds: null, source: 'rules' };
  const d = opt(r, '-d');
  if (d === undefined) {
    if (opt(r, '--dst-type') !== 'LOCAL') return;
    const key = `${port}/${proto}`;
    const had = nodePorts.get(key);
    if (had) had.noEndpoints = how;
    else nodePorts.set(key, { name, affinity, endpoints: [], noEndpoints: how });
    return;
  }
  const ip = hostAddr(d);
  if (!ip) return;
  const key = `${ip}:${port}/${proto}`;
  const had = services.get(key);
  if (had) had.noEndpoints = how;
  else services.set(key, { service: key, name, affinity, endpoints: [], noEndpoints: how });
}
