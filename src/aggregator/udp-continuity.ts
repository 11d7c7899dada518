// UDP continuity (udp-affinity-tester.md): a UDP flow is keyed by node, client ip:port and service; when a new
// conntrack entry replaces the flow's old one, did the backend change, and did the address the backend sees (the SNAT
// source, else the client itself) change?
import { UdpFlowIndex } from './udp-flow-index.js';

export interface UdpFlow {
  ctId: string;
  backend: number;
  /** What the backend sees for the current entry: the snat address once seen, else the client. */
  reflective: string;
  lastTs: number;
  pending: UdpTransition | null;
}

export interface UdpTransition {
  ts: number;
  node: number;
  svc: number;
  client: string;
  fromBackend: number;
  toBackend: number;
  backendChanged: boolean;
  prevReflective: string;
  /** Settled once the new entry's snat event came or could no longer come; null before. */
  reflectiveChanged: boolean | null;
  flow: UdpFlow;
}

/** An snat record follows its dnat on the same packet; this long without one means there was no SNAT. */
const SNAT_GRACE_US = 1_000_000;

export class UdpContinuity {
  private readonly index = new UdpFlowIndex();
  /** Flows by the index's slot. */
  private readonly flows: (UdpFlow | undefined)[] = [];
  /** Transitions, oldest first, from `head` on; older ones are dropped as the window slides. */
  private transitions: UdpTransition[] = [];
  private head = 0;
  private pending: UdpTransition[] = [];
  private pendingHead = 0;

  constructor(
    private readonly maxFlows: number,
    private readonly idleUs: number,
    private readonly maxTransitions: number,
    private readonly settled: (t: UdpTransition) => void,
  ) {}

  /** A udp dnat event; returns the transition when it replaced the flow's entry. */
  dnat(ts: number, node: number, svc: number, client: string, backend: number, ctId: string): UdpTransition | null {
    const index = this.index;
    const p = index.findOrAdd(node, svc, client);
    if (index.added) {
      this.flows[p] = { ctId, backend, reflective: client, lastTs: ts, pending: null };
      this.expire(ts);
      return null;
    }
    const flow = this.flows[p]!;
    index.touch(p);
    flow.lastTs = ts;
    this.expire(ts);
    if (flow.ctId === ctId) return null;
    if (flow.pending) this.settle(flow.pending);
    const t: UdpTransition = {
      ts,
      node,
      svc,
      client,
      fromBackend: flow.backend,
      toBackend: backend,
      backendChanged: flow.backend !== backend,
      prevReflective: flow.reflective,
      reflectiveChanged: null,
      flow,
    };
    flow.ctId = ctId;
    flow.backend = backend;
    flow.reflective = client;
    flow.pending = t;
    this.transitions.push(t);
    this.pending.push(t);
    if (this.transitions.length - this.head > this.maxTransitions) this.head++;
    this.compact();
    return t;
  }

  /** A udp snat event: what the backend sees for the flow's current entry. */
  snat(node: number, svc: number, client: string, ctId: string, snat: string): void {
    const p = this.index.find(node, svc, client);
    if (p === -1) return;
    const flow = this.flows[p]!;
    if (flow.ctId !== ctId) return;
    flow.reflective = snat;
    if (flow.pending) this.settle(flow.pending);
  }

  /** Settles transitions whose snat can no longer come, and drops transitions older than `windowStart`. */
  advance(now: number, windowStart: number): void {
    while (this.pendingHead < this.pending.length && this.pending[this.pendingHead]!.ts + SNAT_GRACE_US < now) {
      const t = this.pending[this.pendingHead++]!;
      if (t.reflectiveChanged === null) this.settle(t);
    }
    while (this.head < this.transitions.length && this.transitions[this.head]!.ts < windowStart) this.head++;
    this.compact();
  }

  /** Transitions since `start`, with reflectiveChanged as far as known now. */
  *since(start: number): Generator<UdpTransition & { reflectiveChanged: boolean }> {
    for (let i = this.head; i < this.transitions.length; i++) {
      const t = this.transitions[i]!;
      if (t.ts >= start)
        yield { ...t, reflectiveChanged: t.reflectiveChanged ?? t.prevReflective !== t.flow.reflective };
    }
  }

  /** Unsettled transitions (any age), for cumulative counts. */
  *unsettled(): Generator<UdpTransition> {
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      const t = this.pending[i]!;
      if (t.reflectiveChanged === null) yield t;
    }
  }

  private settle(t: UdpTransition): void {
    t.reflectiveChanged = t.prevReflective !== t.flow.reflective;
    if (t.flow.pending === t) t.flow.pending = null;
    this.settled(t);
  }

  private expire(now: number): void {
    const index = this.index;
    while (index.oldest !== -1) {
      const p = index.oldest;
      const flow = this.flows[p]!;
      if (index.size <= this.maxFlows && now - flow.lastTs <= this.idleUs) break;
      if (flow.pending) this.settle(flow.pending);
      this.flows[p] = undefined;
      index.remove(p);
    }
  }

  private compact(): void {
    if (this.head > 4096 && this.head * 2 > this.transitions.length) {
      this.transitions = this.transitions.slice(this.head);
      this.head = 0;
    }
    if (this.pendingHead > 4096 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }
}
