// The aggregator's reducer: merged, time-ordered StickyEvents in, cluster state out.
// Everything is decided per event (expiry, window trimming), so the state does not
// depend on how the events were batched.
import {
  CLUSTER_NODE,
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  type CatalogEvent,
  type NodePlace,
  type DnatEvent,
  type LostEvent,
  type NodeEvent,
  type SnatEvent,
  type StickyEvent,
} from '../core/event.js';
import { ClientKeys } from './addresses.js';
import { AffinitySetFills } from './affinity-sets.js';
import { BackendCounts, NO_ENTRY } from './backend-counts.js';
import { applyLive } from './live-apply.js';
import { LiveConns } from './live-conns.js';
import { NodeRoster } from './node-roster.js';
import { NotableQueue } from './notable.js';
import { PairTable } from './pair-table.js';
import { countUnit, unitLeaves } from './spread-units.js';
import { applyCatalog, applyClusterCatalog } from './catalog-apply.js';
import { Services, type ServiceRec } from './services.js';
import { PendingVerdicts } from './pending-verdicts.js';
import { isViolation, SAME, UNIT, Verdict } from './tally.js';
import { causeSettled, judgePending, verdictOf } from './violation-verdicts.js';
import { UdpContinuity, type UdpTransition } from './udp-continuity.js';
import { ViolationCauses } from './violation-causes.js';
import { WindowRing } from './window-ring.js';

export interface StateOptions {
  /** Sliding window length, ending at the latest event (default 60). */
  windowSeconds?: number;
  /** Most (node, service, client) entries kept; the least recently active go first (default 1,000,000). */
  maxPairs?: number;
  /** Most Services whose selections are followed (default 100,000); a new Service's selections past it are dropped and counted. */
  maxServices?: number;
  /**
   * Entries without a selection for this long are dropped (default 10800: the
   * Kubernetes default affinity timeout, so default-timeout verdicts survive).
   */
  idleSeconds?: number;
  /** Most selections the window keeps; beyond it the window starts later and says so (default 1,000,000). */
  maxWindowSelections?: number;
  /** Most notable events kept between drains (default 1000). */
  maxNotable?: number;
  /** False where nobody drains the notable events (a report from a file): the hot ones are not built at all. */
  notable?: boolean;
  /**
   * How long after a violation an xt_recent eviction reported late may still explain it
   * (default 2: eight of the agent's 250 ms list reads). Until then its cause is open.
   */
  causeHorizonSeconds?: number;
  /** Most violations with an open cause; beyond it the oldest is settled `unknown` early (default 100,000). */
  maxOpenViolations?: number;
}

export class AggregatorState {
  readonly windowUs: number;
  readonly idleUs: number;
  readonly maxPairs: number;
  lastTs = NaN;
  /** The first event's time but catalogs' (stamped with their rules' last change): what a rate over the window divides by. */
  firstTs = NaN;
  /** First and latest event a figure counts (a selection or a lost record): the span reported (span.ts). */
  firstCounted = NaN;
  lastCounted = NaN;
  /** Latest selection the window had to drop while it was still inside the window span. */
  truncatedAt = NaN;
  readonly roster = new NodeRoster();
  readonly evictions = { idle: 0, capacity: 0, services: 0 };
  readonly maxServices: number;
  /** Violations whose cause waits for late xt_recent evictions; see violation-causes.ts. */
  readonly causes: ViolationCauses;
  /** Re-picks waiting for their node's next rules read; see pending-verdicts.ts. */
  readonly pending: PendingVerdicts;
  readonly services = new Services();
  readonly clients = new ClientKeys();
  readonly pairs = new PairTable();
  readonly counts = new BackendCounts();
  readonly ring: WindowRing;
  /** The connections open now and the bytes they carry. */
  readonly live: LiveConns;
  readonly udp: UdpContinuity;
  readonly notable: NotableQueue;
  /** False where nobody drains the notable events: the hot ones are not built at all. */
  readonly keepNotable: boolean;
  /** nftables mode: the affinity sets' fill, by Service. */
  readonly affinitySets = new AffinitySetFills();
  private readonly catalogListed = new Map<number, Set<ServiceRec>>();
  private readonly clusterListed = new Set<ServiceRec>();
  /** The cluster's nodes as the API's latest catalog lists them (zones); empty without one. */
  clusterNodes: NodePlace[] = [];

  constructor(opts: StateOptions) {
    this.windowUs = positive(opts.windowSeconds ?? 60, 'windowSeconds') * 1e6;
    this.idleUs = positive(opts.idleSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS, 'idleSeconds') * 1e6;
    this.maxPairs = positive(opts.maxPairs ?? 1_000_000, 'maxPairs');
    this.maxServices = positive(opts.maxServices ?? 100_000, 'maxServices');
    this.ring = new WindowRing(positive(opts.maxWindowSelections ?? 1_000_000, 'maxWindowSelections'));
    this.live = new LiveConns(this.services, this.maxPairs, this.ring.cap);
    this.notable = new NotableQueue(positive(opts.maxNotable ?? 1000, 'maxNotable'));
    this.keepNotable = opts.notable ?? true;
    this.udp = new UdpContinuity(this.maxPairs, this.idleUs, 100_000, (t) => this.udpSettled(t));
    this.causes = new ViolationCauses(
      {
        horizonUs: positive(opts.causeHorizonSeconds ?? 2, 'causeHorizonSeconds') * 1e6,
        maxOpen: positive(opts.maxOpenViolations ?? 100_000, 'maxOpenViolations'),
        keepEvictionsUs: this.idleUs,
      },
      (v, cause) => causeSettled(this, v, cause),
    );
    this.pending = new PendingVerdicts(positive(opts.maxOpenViolations ?? 100_000, 'maxOpenViolations'), (v) =>
      judgePending(this, v),
    );
  }

  /** Judges every re-pick still waiting for its node's rules by the latest rules known: the end of a file or report. */
  settlePending(): void {
    this.pending.judgeAll();
  }

  /** Start of the window: windowSeconds before the latest event, later if the window had to drop selections. */
  windowStart(): number {
    const span = this.lastTs - this.windowUs;
    return Number.isNaN(this.truncatedAt) ? span : Math.max(this.truncatedAt, span);
  }

  apply(ev: StickyEvent): void {
    const ts = ev.ts;
    if (!(ts <= this.lastTs)) this.lastTs = ts;
    if (ev.type !== 'catalog' && !(ts >= this.firstTs)) this.firstTs = ts;
    this.slide(this.lastTs);
    switch (ev.type) {
      case 'dnat':
        this.dnat(ev);
        break;
      case 'snat':
        this.snat(ev);
        break;
      case 'catalog':
        this.catalog(ev);
        break;
      case 'open':
      case 'traffic':
      case 'close':
      case 'sweep':
        // Live connections' figures are counted too: a report of long-lived connections alone states their span.
        this.counted(ts);
        applyLive(this, ev);
        break;
      case 'evicted':
        this.causes.eviction(
          this.roster.indexOf(ev.node),
          ev.endpoint,
          this.clients.keyOf(ev.client),
          ev.since ?? ts,
          ts,
          ev.cause ?? 'listFull',
        );
        break;
      case 'affinitySets':
        this.roster.indexOf(ev.node);
        this.affinitySets.apply(ev);
        break;
      case 'rulesRead':
        this.pending.rulesRead(this.roster.indexOf(ev.node), ev.readAt);
        break;
      case 'lost':
        this.lost(ev);
        break;
      case 'node':
        this.nodeState(ev);
        break;
      default:
        this.roster.indexOf(ev.node);
    }
  }

  /** Expires idle pairs, lets selections leave the window, settles UDP transitions. */
  private slide(now: number): void {
    const pairs = this.pairs;
    const idleBefore = now - this.idleUs;
    while (pairs.oldest !== -1 && pairs.lastTs[pairs.oldest]! < idleBefore) {
      this.dropPair(pairs.oldest);
      this.evictions.idle++;
    }
    const windowBefore = now - this.windowUs;
    const ring = this.ring;
    while (ring.length > 0 && ring.oldestTs() < windowBefore) this.leaveWindow();
    this.live.slide(windowBefore);
    this.udp.advance(now, this.windowStart());
    this.causes.expire(now);
  }

  private dnat(ev: DnatEvent): void {
    const ts = ev.ts;
    // Services are never forgotten (reports list them all): an agent inventing Service
    // addresses would grow this state without end (1M Services measured 2.8 GB).
    if (this.overServices(ev.service, ev.proto)) return;
    this.counted(ts);
    const node = this.roster.indexOf(ev.node);
    const svc = this.services.of(ev.service, ev.proto);
    const client = this.clients.keyOf(ev.client);
    const pairs = this.pairs;
    let p = pairs.find(node, svc.id, client);
    // Most picks repeat the last one: a string compare is cheaper than hashing the address.
    const last = p === -1 ? -1 : pairs.lastBackend[p]!;
    const b = last !== -1 && svc.backendNames[last] === ev.backend ? last : svc.backendOf(ev.backend);
    let code: number = Verdict.first;
    if (p === -1) {
      if (pairs.size >= this.maxPairs) {
        this.dropPair(pairs.oldest);
        this.evictions.capacity++;
      }
      p = pairs.insert(node, svc.id, client, NO_ENTRY);
    } else {
      code = verdictOf(this, p, svc, node, client, b, ts);
      if (isViolation(code)) pairs.violations[p]!++;
      if (code & SAME) pairs.same[p]!++;
      else {
        pairs.switchTs[p] = ts;
        pairs.switchFrom[p] = pairs.lastBackend[p]!;
        pairs.switchCode[p] = code;
      }
    }
    pairs.countHead[p] = this.counts.add(pairs.countHead[p]!, b);
    pairs.selections[p]!++;
    pairs.lastBackend[p] = b;
    pairs.lastTs[p] = ts;
    pairs.touch(p);
    svc.cum.add(b, code, 1);
    svc.win.add(b, code, 1);
    const frontend = this.services.lastFrontend;
    svc.frontendCum[frontend]!++;
    svc.frontendWin[frontend]!++;
    pairs.lastFrontend[p] = frontend;
    svc.countSelection(ts);
    svc.countOnNode(node, b, 1);
    svc.lastByNode[node] = ts;
    if (this.ring.full) {
      const dropped = this.ring.ts[this.leaveWindow()]!;
      if (!(dropped <= this.truncatedAt)) this.truncatedAt = dropped;
    }
    countUnit(this.ring, this.pairs, p, svc, b, code);
    this.ring.push(ts, node, svc.id, client, b, code | UNIT, frontend);
    if (ev.proto === 'udp') this.udpDnat(ev, node, svc, b);
    this.live.dnat(ts, node, svc, ev.client, client, b);
  }

  private catalog(ev: CatalogEvent): void {
    if (ev.node === CLUSTER_NODE) {
      applyClusterCatalog(this.services, this.clusterListed, ev);
      this.clusterNodes = ev.nodes ?? [];
    } else {
      const node = this.roster.indexOf(ev.node);
      applyCatalog(this.services, this.catalogListed, node, ev);
      this.pending.catalog(node, (v) => this.services.list[v.svc]!.view(node)?.endpoints.has(v.from) === true);
    }
    for (const info of ev.services) this.services.existing(info.service)?.noteEndpoints(ev.ts);
  }

  private leaveWindow(): number {
    const ring = this.ring;
    const j = ring.shift();
    const svc = this.services.list[ring.svc[j]!]!;
    svc.win.add(ring.backend[j]!, ring.code[j]!, -1);
    svc.countOnNode(ring.node[j]!, ring.backend[j]!, -1);
    unitLeaves(ring, j, svc);
    svc.frontendWin[ring.frontend[j]!]!--;
    return j;
  }

  private dropPair(p: number): void {
    this.counts.release(this.pairs.countHead[p]!);
    this.pairs.remove(p);
  }

  private udpDnat(ev: DnatEvent, node: number, svc: ServiceRec, b: number): void {
    const t = this.udp.dnat(ev.ts, node, svc.id, ev.client, b, ev.ctId);
    if (!t) return;
    svc.udp.replacements++;
    if (!t.backendChanged) return;
    svc.udp.backendChanged++;
    if (this.keepNotable)
      this.notable.push({
        kind: 'backendChanged',
        ts: t.ts,
        node: ev.node,
        service: svc.key,
        client: ev.client,
        from: svc.backendNames[t.fromBackend]!,
        to: ev.backend,
      });
  }

  /** Whether `addr` is a new Service past maxServices (counted). */
  overServices(addr: string, proto: DnatEvent['proto']): boolean {
    if (this.services.list.length < this.maxServices || this.services.has(addr, proto)) return false;
    this.evictions.services++;
    return true;
  }

  private snat(ev: SnatEvent): void {
    const node = this.roster.indexOf(ev.node);
    if (ev.proto !== 'udp' || this.overServices(ev.service, ev.proto)) return;
    const svc = this.services.of(ev.service, ev.proto);
    this.udp.snat(node, svc.id, ev.client, ev.ctId, ev.snat);
  }

  private udpSettled(t: UdpTransition): void {
    if (!t.reflectiveChanged) return;
    const svc = this.services.list[t.svc]!;
    svc.udp.reflectiveChanged++;
    if (this.keepNotable)
      this.notable.push({
        kind: 'reflectiveChanged',
        ts: t.ts,
        node: this.roster.names[t.node]!,
        service: svc.key,
        client: t.client,
        from: t.prevReflective,
        to: t.flow.reflective,
      });
  }

  /** Widens the span the figures count (span.ts) to `ts`. */
  counted(ts: number): void {
    if (!(ts >= this.firstCounted)) this.firstCounted = ts;
    if (!(ts <= this.lastCounted)) this.lastCounted = ts;
  }

  private lost(ev: LostEvent): void {
    this.counted(ev.ts);
    this.roster.lost(ev, this.windowStart());
    this.notable.push({ kind: 'lost', ts: ev.ts, node: ev.node, count: ev.count });
  }

  private nodeState(ev: NodeEvent): void {
    if (!this.roster.nodeState(ev)) return;
    if (ev.state === 'down') this.pending.nodeGone(this.roster.indexOf(ev.node));
    this.notable.push({
      kind: ev.state === 'down' ? 'nodeDown' : 'nodeUp',
      ts: ev.ts,
      node: ev.node,
      ...(ev.reason ? { reason: ev.reason } : {}),
    });
  }
}

function positive(v: number, name: string): number {
  if (!(v > 0) || !Number.isFinite(v))
    throw new RangeError(`failed to create aggregator state: ${name} must be a positive number, got ${v}`);
  return v;
}

export function createState(opts: StateOptions = {}): AggregatorState {
  return new AggregatorState(opts);
}

/** Folds time-ordered events into the state, in place. */
export function applyEvents(state: AggregatorState, events: readonly StickyEvent[]): void {
  for (let i = 0; i < events.length; i++) state.apply(events[i]!);
}
