// Per-service state: names, backends (numbered per service), what each node's catalog and the Kubernetes API say
// about the service, and the window and cumulative tallies.
import type { Proto, ServiceInfo } from '../core/event.js';
import { compareAddr } from './addresses.js';
import { LoadTally } from './load-tally.js';
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
  /** Connections open now and the bytes they carry (live-conns.ts). */
  readonly load = new LoadTally();
  /**
   * When each backend last joined the Service's current endpoints (µs); NaN for those listed from the first catalog
   * on, whose joining nobody saw.
   */
  readonly joinedTs: number[] = [];
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
  /** Selections by node and backend ([node][backend]), cumulative and in the window: where picks went (topology). */
  readonly nodeCum: number[][] = [];
  readonly nodeWin: number[][] = [];
  readonly udp: UdpCounts = { replacements: 0, backendChanged: 0, reflectiveChanged: 0 };
  /** Selections per wall-clock second, for the last RATE_SLOTS seconds. */
  readonly rateSecond = new Float64Array(RATE_SLOTS).fill(-1);
  readonly rateCount = new Uint32Array(RATE_SLOTS);
  /**
   * Every address of the Service port ("ip:port/proto"), its frontends (frontends.ts): `key` first, then as catalogs
   * named them: the other family's cluster IP, NodePorts at node addresses, external and load-balancer IPs.
   */
  readonly addresses: string[];
  /** Selections by frontend (index in `addresses`), cumulative and in the window. */
  readonly frontendCum: number[] = [0];
  readonly frontendWin: number[] = [0];
  /** A backend's other addresses (a pod's other family), by backend index; most backends have none. */
  readonly otherAddresses = new Map<number, string[]>();
  private readonly backendIdx = new Map<string, number>();
  private readonly podIdx = new Map<string, number>();
  private byAddress: number[] = [];
  private listedBefore: Set<number> | undefined;

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

  /** The backend at address `name`, if known. */
  existingBackend(name: string): number | undefined {
    return this.backendIdx.get(name);
  }

  /** IPv6 selections, cumulative: those through the IPv6 frontends (a client reaches an address of its own family). */
  get ipv6Cum(): number {
    return this.ofFamily(this.frontendCum, true);
  }

  /** IPv6 selections in the window; the rest are IPv4 (`selections` minus these). */
  get ipv6Win(): number {
    return this.ofFamily(this.frontendWin, true);
  }

  private ofFamily(counts: readonly number[], v6: boolean): number {
    let n = 0;
    for (let f = 0; f < this.addresses.length; f++) if (this.addresses[f]!.startsWith('[') === v6) n += counts[f] ?? 0;
    return n;
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

  /** A catalog describing the Service was applied at `ts`: endpoints new to the current set joined then. */
  noteEndpoints(ts: number): void {
    const now = this.currentEndpoints();
    const before = this.listedBefore;
    for (const b of now) {
      if (!before) this.joinedTs[b] = Number.NaN;
      else if (!before.has(b)) this.joinedTs[b] = ts;
    }
    this.listedBefore = now;
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

  /** One selection by `node` of backend `b` entering (1) or leaving (-1) the window; the cumulative count with it. */
  countOnNode(node: number, b: number, delta: 1 | -1): void {
    this.nodeWin[node] ??= [];
    this.nodeWin[node][b] = (this.nodeWin[node][b] ?? 0) + delta;
    if (delta === 1) {
      this.nodeCum[node] ??= [];
      this.nodeCum[node][b] = (this.nodeCum[node][b] ?? 0) + 1;
    }
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
  /** Each address's index in its Service's `addresses`, by protocol. */
  private readonly frontendOf: Record<string, Map<string, number>> = {
    tcp: new Map(),
    udp: new Map(),
    sctp: new Map(),
  };
  private lastAddr: string | undefined;
  private lastProto: Proto | undefined;
  private last: ServiceRec | undefined;
  /** The frontend (index in the Service's `addresses`) of the address the last of() looked up. */
  lastFrontend = 0;

  /** The service for a flow's original destination, created on first sight; its frontend is then `lastFrontend`. */
  of(addr: string, proto: Proto): ServiceRec {
    // A run of selections of one service skips the map (decoders reuse repeated strings).
    if (addr === this.lastAddr && proto === this.lastProto) return this.last!;
    const m = this.byProto[proto]!;
    const id = m.get(addr);
    const rec = id !== undefined ? this.list[id]! : this.create(addr, proto, m);
    this.lastAddr = addr;
    this.lastProto = proto;
    this.last = rec;
    this.lastFrontend = this.frontendOf[proto]!.get(addr) ?? 0;
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

  /** From now on `key` (another frontend of the Service port: frontends.ts) names `rec`. */
  alias(key: string, rec: ServiceRec): void {
    const [addr, proto] = splitKey(key);
    this.byProto[proto]!.set(addr, rec.id);
    // The window ring keeps a frontend in 16 bits: past that, further addresses count under the first.
    // Known already: the record's own key, or an address aliased before (a map, not a scan: catalogs can be long).
    if (key === rec.key || this.frontendOf[proto]!.has(addr) || rec.addresses.length >= 65535) return;
    this.frontendOf[proto]!.set(addr, rec.addresses.length);
    rec.addresses.push(key);
    rec.frontendCum.push(0);
    rec.frontendWin.push(0);
    this.lastAddr = undefined;
  }

  private create(addr: string, proto: Proto, m: Map<string, number>): ServiceRec {
    const rec = new ServiceRec(this.list.length, `${addr}/${proto}`);
    this.list.push(rec);
    m.set(addr, rec.id);
    return rec;
  }
}

/** The backends a Service's report lists (current endpoints, any selected or open now), in address order: K of 1/K. */
export function shownBackends(svc: ServiceRec, t: Tally): number[] {
  const names = svc.backendNames;
  const listed = svc.currentEndpoints();
  const shown = names.map((_, b) => b).filter((b) => listed.has(b) || t.countOf(b) > 0 || svc.load.openOf(b) > 0);
  return shown.sort((a, b) => compareAddr(names[a]!, names[b]!));
}
