// The cause of an affinity violation, settled late when it must be: a violation no known eviction explains stays open
// (counted `unknown` meanwhile) until an eviction that explains it arrives (`listFull` for xt_recent, `setFull` for a
// full nftables affinity set that never pinned the client) or event time has moved `horizonUs` past it (`unknown`).

import type { ViolationNotable } from './notable.js';

/** `crossFrontend`: another frontend of the same Service port pinned the client to the new backend (decided at once). */
export type ViolationCause = 'listFull' | 'setFull' | 'crossFrontend' | 'unknown';
/** What the agent reports: an eviction from a full xt_recent list, or a client a full nftables set did not take. */
export type KnownCause = 'listFull' | 'setFull';

/** A violation whose cause is being decided. */
export interface OpenViolation {
  node: number;
  svc: number;
  client: number;
  /** The backend the client left: its list is the one that lost the entry. */
  from: string;
  to: string;
  /** Times of the previous selection and of the violating one. */
  prevTs: number;
  ts: number;
  /** The violating selection's sequence number in the window ring. */
  seq: number;
  /** The notable event that announced it, and the queue's drain count then. */
  note?: { event: ViolationNotable; drain: number };
  /** Set once its cause is final: cheaper to test than the open map. */
  settled?: true;
  /** While pending (pending-verdicts.ts): a catalog of its node since the pick no longer listed `from`. */
  gone?: true;
  /**
   * The move came with a change of frontend (the client's previous pick went through another address of the same
   * Service port): kube-proxy keys ClientIP affinity by endpoint, but an externalTrafficPolicy: Local frontend (a
   * NodePort, a load-balancer address) checks and sets only the local endpoints' entries, so a client that goes
   * through both is moved by it. The cause `crossFrontend`.
   */
  otherFrontend?: true;
}

interface Span {
  since: number;
  ts: number;
  cause: KnownCause;
}

export interface CauseOptions {
  /** How long after a violation an eviction may still explain it. */
  horizonUs: number;
  /** Most violations kept open; beyond it the oldest is settled `unknown` early, and counted. */
  maxOpen: number;
  /** How long an eviction that explained nothing yet is kept for a later violation. */
  keepEvictionsUs: number;
}

/**
 * Entries by (node, endpoint, client), one map per endpoint keyed by client and node as one exact number (client keys
 * stay below 2^37, nodes below 2^16): a string key built and hashed per violation cost more than the rest of it.
 */
class EndpointKeyed<V> {
  private readonly byEndpoint = new Map<string, Map<number, V>>();
  size = 0;

  get(node: number, endpoint: string, client: number): V | undefined {
    return this.byEndpoint.get(endpoint)?.get(client * 65536 + node);
  }

  set(node: number, endpoint: string, client: number, v: V): void {
    let m = this.byEndpoint.get(endpoint);
    if (m === undefined) {
      m = new Map();
      this.byEndpoint.set(endpoint, m);
    }
    const before = m.size;
    m.set(client * 65536 + node, v);
    this.size += m.size - before;
  }

  delete(node: number, endpoint: string, client: number): void {
    const m = this.byEndpoint.get(endpoint);
    if (m?.delete(client * 65536 + node)) this.size--;
  }

  *values(): Generator<V> {
    for (const m of this.byEndpoint.values()) yield* m.values();
  }

  /** Removes every entry `drop` says to. */
  prune(drop: (v: V) => boolean): void {
    for (const [endpoint, m] of this.byEndpoint) {
      for (const [k, v] of m)
        if (drop(v)) {
          m.delete(k);
          this.size--;
        }
      if (m.size === 0) this.byEndpoint.delete(endpoint);
    }
  }
}

/**
 * An eviction of the client from the list of the backend it left, on that node, explains the violation when its
 * interval (since, ts] could hold a moment between the two selections: it does not start after the violation and
 * ends after the previous pick.
 */
const explains = (e: Span, v: OpenViolation) => e.since <= v.ts && e.ts > v.prevTs;

/**
 * The agent reads the xt_recent lists every 250 ms, so the eviction that let a client be re-picked is often reported
 * after the violation: when clients come back in the order they first came, each re-pick evicts the oldest entry of a
 * full list, the very client about to come back milliseconds later.
 */
export class ViolationCauses {
  /** Open violations by (node, endpoint left, client); `queue` holds them in arrival order for expiry. */
  private readonly open = new EndpointKeyed<OpenViolation>();
  private queue: OpenViolation[] = [];
  private head = 0;
  /** Evictions that explained no violation yet, by the same key. */
  private readonly evicted = new EndpointKeyed<Span>();
  private evictedPruneAt = 1024;
  /** Open violations settled `unknown` before their horizon to bound memory. */
  droppedOpen = 0;
  /** Violations counted `unknown` first and found `listFull` or `setFull` later. */
  reclassified = 0;

  /** `settle` hears every violation left open once its cause is final. */
  constructor(
    private readonly opts: CauseOptions,
    private readonly settle: (v: OpenViolation, cause: ViolationCause) => void,
  ) {}

  get openCount(): number {
    return this.open.size;
  }

  /** Violations whose cause is still open, by service id. */
  openByService(): Map<number, number> {
    const out = new Map<number, number>();
    for (const v of this.open.values()) out.set(v.svc, (out.get(v.svc) ?? 0) + 1);
    return out;
  }

  /**
   * A new violation: the cause of an eviction already seen that explains it (settled now,
   * `settle` is not called), else `unknown` for now, left open.
   */
  violation(v: OpenViolation): ViolationCause {
    const e = this.evicted.get(v.node, v.from, v.client);
    if (e && explains(e, v)) {
      this.evicted.delete(v.node, v.from, v.client);
      return e.cause;
    }
    const older = this.open.get(v.node, v.from, v.client);
    if (older) this.close(older, 'unknown');
    if (this.open.size >= this.opts.maxOpen) {
      const oldest = this.oldestOpen();
      if (oldest) {
        this.close(oldest, 'unknown');
        this.droppedOpen++;
      }
    }
    this.open.set(v.node, v.from, v.client, v);
    this.queue.push(v);
    return 'unknown';
  }

  /**
   * An eviction of `client` from `endpoint`'s list on `node`, somewhere in (since, ts]; for `setFull`, `since` is the
   * pick the full set did not pin.
   */
  eviction(
    node: number,
    endpoint: string,
    client: number,
    since: number,
    ts: number,
    cause: KnownCause = 'listFull',
  ): void {
    const span = { since, ts, cause };
    const v = this.open.get(node, endpoint, client);
    if (v && explains(span, v)) {
      this.reclassified++;
      this.close(v, cause);
      return;
    }
    this.evicted.set(node, endpoint, client, span);
    if (this.evicted.size < this.evictedPruneAt) return;
    const keepAfter = ts - this.opts.keepEvictionsUs;
    this.evicted.prune((s) => s.ts < keepAfter);
    this.evictedPruneAt = Math.max(1024, this.evicted.size * 2);
  }

  /** Settles `unknown` the open violations `horizonUs` or more before `now`. */
  expire(now: number): void {
    const before = now - this.opts.horizonUs;
    // Called for every event: the common cases cost one comparison.
    if (this.head >= this.queue.length || this.queue[this.head]!.ts > before) return;
    for (let v = this.oldestOpen(); v && v.ts <= before; v = this.oldestOpen()) {
      this.close(v, 'unknown');
    }
  }

  private close(v: OpenViolation, cause: ViolationCause): void {
    this.open.delete(v.node, v.from, v.client);
    v.settled = true;
    this.settle(v, cause);
  }

  /** The oldest violation still open; drops queue entries already settled. */
  private oldestOpen(): OpenViolation | undefined {
    const q = this.queue;
    while (this.head < q.length) {
      const v = q[this.head]!;
      if (v.settled !== true) break;
      this.head++;
    }
    if (this.head === q.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    return this.queue[this.head];
  }
}
