// Per-service state: names, backends (numbered per service), what each node's catalog
// says about the service, and the window and cumulative tallies.
import type { CatalogEvent, Proto, ServiceInfo } from '../probe/event.js';
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
  readonly views: (NodeView | undefined)[] = [];
  /** The most recent view from any node, for nodes that never described the service. */
  latest: NodeView | undefined;
  /** Last selection time by node. */
  readonly lastByNode: number[] = [];
  readonly udp: UdpCounts = { replacements: 0, backendChanged: 0, reflectiveChanged: 0 };
  /** Selections per wall-clock second, for the last RATE_SLOTS seconds. */
  readonly rateSecond = new Float64Array(RATE_SLOTS).fill(-1);
  readonly rateCount = new Uint32Array(RATE_SLOTS);
  private readonly backendIdx = new Map<string, number>();

  constructor(readonly id: number, readonly key: string) {}

  backendOf(name: string): number {
    let b = this.backendIdx.get(name);
    if (b === undefined) {
      b = this.backendNames.length;
      this.backendNames.push(name);
      this.backendIdx.set(name, b);
    }
    return b;
  }

  view(node: number): NodeView | undefined {
    return this.views[node] ?? this.latest;
  }

  /** Local indices of the endpoints some node currently lists. */
  currentEndpoints(): Set<number> {
    const out = new Set<number>();
    for (const v of this.views) if (v && !v.removed) for (const e of v.endpoints) out.add(this.backendOf(e));
    return out;
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

export class Services {
  readonly list: ServiceRec[] = [];
  private readonly byProto: Record<string, Map<string, number>> = { tcp: new Map(), udp: new Map(), sctp: new Map() };

  /** The service for a flow's original destination, created on first sight. */
  of(addr: string, proto: Proto): ServiceRec {
    const m = this.byProto[proto]!;
    const id = m.get(addr);
    if (id !== undefined) return this.list[id]!;
    return this.create(addr, proto, m);
  }

  /** The service for a "ip:port/proto" key. */
  ofKey(key: string): ServiceRec {
    const slash = key.lastIndexOf('/');
    const proto = key.slice(slash + 1).toLowerCase();
    if (slash < 0 || !(proto in this.byProto)) {
      throw new Error(`failed to read catalog service key '${key}': expected "ip:port/tcp|udp|sctp"`);
    }
    return this.of(key.slice(0, slash), proto as Proto);
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
 */
export function applyCatalog(services: Services, listed: Map<number, Set<ServiceRec>>, node: number, ev: CatalogEvent): void {
  const before = listed.get(node) ?? new Set<ServiceRec>();
  const now = new Set<ServiceRec>();
  for (const info of ev.services) {
    const rec = services.ofKey(info.service);
    for (const e of info.endpoints) rec.backendOf(e);
    const view: NodeView = { info, endpoints: new Set(info.endpoints), removed: false };
    rec.views[node] = view;
    rec.latest = view;
    now.add(rec);
  }
  for (const rec of before) {
    const old = rec.views[node];
    if (!now.has(rec) && old) rec.views[node] = { info: old.info, endpoints: new Set(), removed: true };
  }
  listed.set(node, now);
}
