// Per-service state: names, backends (numbered per service), what each node's catalog and the Kubernetes API say
// about the service, and the window and cumulative tallies.
import type { CatalogEvent, Proto, ServiceInfo } from '../core/event.js';
import { compareAddr } from './addresses.js';
import { dualStackGroups } from './dual-stack.js';
import { Tally } from './tally.js';

/** A service as one node's rules describe it; `removed` once the node's catalog dropped it. */
export interface NodeView {
  info: ServiceInfo;
  endpoints: Set<string>;
  removed: boolean;
}

export interface UdpCounts {
  replacements: number;
  backendChanged: number;
  reflectiveChanged: number;
}

const RATE_SLOTS = 8;

export class ServiceRec {
  readonly win = new Tally();
  readonly cum = new Tally();
  readonly backendNames: string[] = [];
  /** Each node's own rules view. */
  readonly views: (NodeView | undefined)[] = [];
  /** Name, affinity and pods for reports: the API's view, else the most recent rules view. */
  latest: NodeView | undefined;
  /** The service in the latest API catalog; undefined when that catalog lacks it. */
  cluster: NodeView | undefined;
  /** What each node's verdicts are judged against: its rules, with the spec's affinity. */
  private readonly effective: (NodeView | undefined)[] = [];
  /** For nodes whose rules never described the service: the API's view, else the latest rules view. */
  private fallback: NodeView | undefined;
  private rulesLatest: NodeView | undefined;
  /** Last selection time by node. */
  readonly lastByNode: number[] = [];
  readonly udp: UdpCounts = { replacements: 0, backendChanged: 0, reflectiveChanged: 0 };
  /** Selections per wall-clock second, for the last RATE_SLOTS seconds. */
  readonly rateSecond = new Float64Array(RATE_SLOTS).fill(-1);
  readonly rateCount = new Uint32Array(RATE_SLOTS);
  /** Every address of the Service ("ip:port/proto"): `key` first, then the other family's of a dual-stack Service. */
  readonly addresses: string[];
  /** IPv6 selections, cumulative and in the window (the rest are IPv4: `selections` minus these). */
  ipv6Cum = 0;
  ipv6Win = 0;
  /** A backend's other addresses (a pod's other family), by backend index; most backends have none. */
  readonly otherAddresses = new Map<number, string[]>();
  private readonly backendIdx = new Map<string, number>();
  private readonly podIdx = new Map<string, number>();
  private byAddress: number[] = [];

  constructor(
    readonly id: number,
    readonly key: string,
  ) {
    this.addresses = [key];
  }

  /**
   * The backend at address `name`, created on first sight. A backend is a pod where the catalog names it: the pod's
   * IPv4 and IPv6 addresses are one backend (named by the first seen), so spread counts pods, not addresses.
   */
  backendOf(name: string, pod?: string): number {
    let b = this.backendIdx.get(name);
    if (b !== undefined) {
      if (pod !== undefined && !this.podIdx.has(pod)) this.podIdx.set(pod, b);
      return b;
    }
    const same = pod === undefined ? undefined : this.podIdx.get(pod);
    // Only the pod's other family joins it: a second address of one family is a new pod under an old name (a
    // StatefulSet's pod restarted elsewhere), and kube-proxy's affinity does not carry over to it.
    if (same !== undefined && !this.addressesOf(same).some((a) => a.startsWith('[') === name.startsWith('['))) {
      this.backendIdx.set(name, same);
      this.otherAddresses.set(same, [...(this.otherAddresses.get(same) ?? []), name]);
      return same;
    }
    b = this.backendNames.length;
    this.backendNames.push(name);
    this.backendIdx.set(name, b);
    // The pod's newest addresses are the ones its other family joins.
    if (pod !== undefined) this.podIdx.set(pod, b);
    return b;
  }

  /** Every address of backend `b`. */
  private addressesOf(b: number): string[] {
    return [this.backendNames[b]!, ...(this.otherAddresses.get(b) ?? [])];
  }

  view(node: number): NodeView | undefined {
    return this.effective[node] ?? this.fallback;
  }

  /** One node's rules now say this about the service. */
  setRules(node: number, view: NodeView): void {
    this.views[node] = view;
    if (!view.removed) this.rulesLatest = view;
    this.effective[node] = this.judgedBy(view);
    this.refreshShared();
  }

  /** The latest API catalog says this (undefined: it no longer lists the service). */
  setCluster(view: NodeView | undefined): void {
    this.cluster = view;
    for (let n = 0; n < this.views.length; n++) this.effective[n] = this.judgedBy(this.views[n]);
    this.refreshShared();
  }

  /**
   * Local indices of the endpoints that count now: those some node's rules list, and
   * the API's where some node is judged against them (it selected the service without
   * its rules listing it) or no node's rules list the service at all.
   */
  /**
   * Every backend's index in address order. Sorted again only when a backend was added
   * (names only grow): the TUI asks every frame, and sorting 5,000 addresses takes 15 ms.
   */
  backendsByAddress(): readonly number[] {
    const names = this.backendNames;
    if (this.byAddress.length !== names.length)
      this.byAddress = names.map((_, b) => b).sort((a, b) => compareAddr(names[a]!, names[b]!));
    return this.byAddress;
  }

  currentEndpoints(): Set<number> {
    const out = new Set<number>();
    let listedByRules = false;
    for (const v of this.views) {
      if (!v || v.removed) continue;
      listedByRules = true;
      for (const e of v.endpoints) out.add(this.backendOf(e));
    }
    if (this.cluster && (!listedByRules || this.lastByNode.some((_, n) => !this.views[n] || this.views[n]!.removed))) {
      for (const e of this.cluster.endpoints) out.add(this.backendOf(e));
    }
    return out;
  }

  private judgedBy(own: NodeView | undefined): NodeView | undefined {
    const k = this.cluster;
    if (!k || !own) return own;
    if (own.removed) return k;
    return {
      info: { ...own.info, name: k.info.name ?? own.info.name, affinity: k.info.affinity, pods: k.info.pods },
      endpoints: own.endpoints,
      removed: false,
    };
  }

  private refreshShared(): void {
    const k = this.cluster;
    const r = this.rulesLatest;
    this.fallback = k ?? r;
    this.latest = k && k.info.name === null && r ? { ...k, info: { ...k.info, name: r.info.name } } : (k ?? r);
  }

  countSelection(ts: number): void {
    const sec = Math.floor(ts / 1e6);
    const slot = sec % RATE_SLOTS;
    if (this.rateSecond[slot] !== sec) {
      this.rateSecond[slot] = sec;
      this.rateCount[slot] = 0;
    }
    this.rateCount[slot]!++;
  }

  /** Mean selections per second over the `seconds` whole seconds before the one holding `now`. */
  ratePerSecond(now: number, seconds: number): number {
    const cur = Math.floor(now / 1e6);
    const span = Math.min(seconds, RATE_SLOTS - 1);
    let n = 0;
    for (let s = cur - span; s < cur; s++) {
      const slot = ((s % RATE_SLOTS) + RATE_SLOTS) % RATE_SLOTS;
      if (this.rateSecond[slot] === s) n += this.rateCount[slot]!;
    }
    return n / span;
  }
}

function splitKey(key: string): [string, Proto] {
  const slash = key.lastIndexOf('/');
  const proto = key.slice(slash + 1).toLowerCase();
  if (slash < 0 || (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp')) {
    throw new Error(`failed to read catalog service key '${key}': expected "ip:port/tcp|udp|sctp"`);
  }
  return [key.slice(0, slash), proto];
}

export class Services {
  readonly list: ServiceRec[] = [];
  private readonly byProto: Record<string, Map<string, number>> = { tcp: new Map(), udp: new Map(), sctp: new Map() };
  private lastAddr: string | undefined;
  private lastProto: Proto | undefined;
  private last: ServiceRec | undefined;

  /** The service for a flow's original destination, created on first sight. */
  of(addr: string, proto: Proto): ServiceRec {
    // A run of selections of one service skips the map (decoders reuse repeated strings).
    if (addr === this.lastAddr && proto === this.lastProto) return this.last!;
    const m = this.byProto[proto]!;
    const id = m.get(addr);
    const rec = id !== undefined ? this.list[id]! : this.create(addr, proto, m);
    this.lastAddr = addr;
    this.lastProto = proto;
    this.last = rec;
    return rec;
  }

  /** Whether a service of that address is known. */
  has(addr: string, proto: Proto): boolean {
    return this.byProto[proto]!.has(addr);
  }

  /** The service for a "ip:port/proto" key. */
  ofKey(key: string): ServiceRec {
    const [addr, proto] = splitKey(key);
    return this.of(addr, proto);
  }

  /** The service a key already names, if any. */
  existing(key: string): ServiceRec | undefined {
    const [addr, proto] = splitKey(key);
    const id = this.byProto[proto]!.get(addr);
    return id === undefined ? undefined : this.list[id];
  }

  /** From now on `key` (the other family's address of a dual-stack Service) names `rec`. */
  alias(key: string, rec: ServiceRec): void {
    const [addr, proto] = splitKey(key);
    this.byProto[proto]!.set(addr, rec.id);
    if (!rec.addresses.includes(key)) rec.addresses.push(key);
  }

  private create(addr: string, proto: Proto, m: Map<string, number>): ServiceRec {
    const rec = new ServiceRec(this.list.length, `${addr}/${proto}`);
    this.list.push(rec);
    m.set(addr, rec.id);
    return rec;
  }
}

/**
 * Replaces one node's catalog: its services get fresh views, and services it listed
 * before but no longer does keep their affinity with no endpoints (so a pick that
 * follows is a forced one).
 *
 * Two kinds of catalog describe a service. A node's own (from its kube-proxy rules) holds for that node; the API's
 * (node CLUSTER_NODE, source 'k8s') holds for every node. The spec wins for what the spec decides (name, affinity,
 * pods); for endpoints a node's own rules win, since they are what its kube-proxy really translates to right now, and
 * the API's endpoints stand in for nodes whose rules do not list the service.
 */
export function applyCatalog(
  services: Services,
  listed: Map<number, Set<ServiceRec>>,
  node: number,
  ev: CatalogEvent,
): void {
  const before = listed.get(node) ?? new Set<ServiceRec>();
  const now = new Set<ServiceRec>();
  for (const [rec, info] of describedServices(services, ev.services)) {
    rec.setRules(node, { info, endpoints: new Set(info.endpoints), removed: false });
    now.add(rec);
  }
  for (const rec of before) {
    const old = rec.views[node];
    if (!now.has(rec) && old) rec.setRules(node, { info: old.info, endpoints: new Set(), removed: true });
  }
  listed.set(node, now);
}

/**
 * Replaces the API's catalog (node CLUSTER_NODE): it holds for every node and is no
 * node itself. Services it listed before but no longer does fall back to the rules.
 */
export function applyClusterCatalog(services: Services, listed: Set<ServiceRec>, ev: CatalogEvent): void {
  const now = new Set<ServiceRec>();
  for (const [rec, info] of describedServices(services, ev.services)) {
    rec.setCluster({ info, endpoints: new Set(info.endpoints), removed: false });
    now.add(rec);
  }
  for (const rec of listed) if (!now.has(rec)) rec.setCluster(undefined);
  listed.clear();
  for (const rec of now) listed.add(rec);
}

/** The backends a Service's report lists (current endpoints and any selected), in address order: K of 1/K. */
export function shownBackends(svc: ServiceRec, t: Tally): number[] {
  const names = svc.backendNames;
  const listed = svc.currentEndpoints();
  const shown = names.map((_, b) => b).filter((b) => listed.has(b) || t.countOf(b) > 0);
  return shown.sort((a, b) => compareAddr(names[a]!, names[b]!));
}

/**
 * A catalog's entries as the Services they describe: the two addresses of a dual-stack Service (dual-stack.ts) are
 * one ServiceRec, described by one entry holding both families' endpoints. The pair joins one record only while at
 * most one of them has a record of its own already (catalogs come before flows, so both are new or already joined);
 * two records with history stay apart.
 */
function describedServices(services: Services, infos: readonly ServiceInfo[]): [ServiceRec, ServiceInfo][] {
  const out: [ServiceRec, ServiceInfo][] = [];
  const add = (rec: ServiceRec, info: ServiceInfo) => {
    for (const e of info.endpoints) rec.backendOf(e, info.pods?.[e]);
    out.push([rec, info]);
  };
  for (const group of dualStackGroups(infos)) {
    const [first, second] = group;
    if (!second) {
      add(services.ofKey(first!.service), first!);
      continue;
    }
    const a = services.existing(first!.service);
    const b = services.existing(second.service);
    if (a && b && a !== b) {
      add(a, first!);
      add(b, second);
      continue;
    }
    const rec = a ?? b ?? services.ofKey(first!.service);
    services.alias(first!.service, rec);
    services.alias(second.service, rec);
    const pods = first!.pods || second.pods ? { ...first!.pods, ...second.pods } : undefined;
    add(rec, {
      ...first!,
      service: rec.key,
      endpoints: [...first!.endpoints, ...second.endpoints],
      ...(pods ? { pods } : {}),
    });
  }
  return out;
}
