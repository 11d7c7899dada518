// The agent's subscribers: the event stream fanned out to each (encoded once for all without a filter), each behind its
// own bounded queue; the summary subscribers; and Info from what went by. What one client may cost is bounded
// (limits.ts): each limit hit is refused with a gRPC status, counted in Info and said on stderr.
import { LiveBook } from './live-book.js';
import { release } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { CatalogEvent, CountersEvent, StickyEvent } from '../core/event.js';
import type { IndexedBatch } from '../protocol/batch-encoder.js';
import type { BatchMessage, SubscribeRequest } from '../protocol/service-def.js';
import { encodeBatchWithIndex, type AgentInfo } from '../protocol/wire.js';
import { resetCall } from './connection-guard.js';
import { compileFilter, takesEverything, validateFilter, type EventPredicate } from '../protocol/event-filter.js';
import type { AgentLimits, LimitKind, LimitLog } from './limits.js';
import type { SummarySource } from './server.js';
import { Subscriber } from './subscriber.js';

/** Status codes of grpc.status, as numbers the limits answer with. */
const { RESOURCE_EXHAUSTED, INVALID_ARGUMENT } = grpc.status;
/** Bytes a summary subscriber may leave unread before it is cut (it reconnects and gets a snapshot). */
const MAX_SUMMARY_BACKLOG = 64 * 1024 * 1024;

type EventCall = grpc.ServerWritableStream<SubscribeRequest, BatchMessage>;
type SummaryCall = grpc.ServerWritableStream<unknown, Uint8Array>;

export interface SubscriptionsOptions {
  node: string;
  attachPoints?: string[];
  limits: AgentLimits;
  limitLog: LimitLog;
  maxBuffered?: number;
  maxBatch?: number;
}

export class Subscriptions {
  private readonly subscribers = new Set<Subscriber>();
  private readonly summarySubs = new Set<SummaryCall>();
  private readonly subscriberOpts;
  private catalog: CatalogEvent | null = null;
  private counters: CountersEvent | null = null;
  private lostEvents = 0;
  private lostByGone = 0;
  /** The connections open now (live-book.ts): what a subscriber arriving late is told first. */
  private readonly live = new LiveBook();

  constructor(private readonly opts: SubscriptionsOptions) {
    const { limits } = opts;
    this.subscriberOpts = {
      node: opts.node,
      maxBuffered: opts.maxBuffered ?? 65_536,
      maxBatch: opts.maxBatch ?? 2048,
      stallTimeoutMs: limits.stallTimeoutMs,
      onStalled: (sub: Subscriber, overflowingMs: number) => {
        const peer = sub.call.getPeer();
        const details = `subscriber ${peer} read nothing for ${Math.round(overflowingMs / 1000)} s while its queue of ${this.subscriberOpts.maxBuffered} events overflowed; its stream is cut (limit: agent --stall-timeout ${limits.stallTimeoutMs / 1000}s)`;
        this.hit('stalledSubscribers', details);
        if (this.subscribers.delete(sub)) this.lostByGone += sub.lost;
        // The status waits behind what the client has not read; the reset reaches it at once.
        sub.call.emit('error', { code: RESOURCE_EXHAUSTED, details });
        resetCall(sub.call);
      },
    };
  }

  /** Each batch of the agent's stream, to every subscriber. */
  readonly onEvents = (events: StickyEvent[]): void => {
    for (const e of events) {
      if (e.type === 'catalog') this.catalog = e;
      else if (e.type === 'counters') this.counters = e;
      else if (e.type === 'lost') this.lostEvents += e.count;
    }
    this.live.apply(events);
    // Encoded once for every subscriber without a filter (they send slices of the same bytes); filtered ones encode
    // what passes theirs.
    let shared: IndexedBatch | undefined;
    for (const s of this.subscribers) {
      if (s.takesAll && shared === undefined) shared = encodeBatchWithIndex(events);
      s.offer(events, shared);
    }
  };

  hit(kind: LimitKind, message: string): void {
    this.opts.limitLog.hit(kind, message);
  }

  /** Subscribe: admitted (or refused, said to the client, counted, logged), then fed until it goes. */
  subscribe(call: EventCall): void {
    const accepts = this.admit(call);
    if (!accepts) return;
    const sub = new Subscriber(call, takesEverything(accepts) ? null : accepts, this.subscriberOpts);
    this.subscribers.add(sub);
    const gone = () => {
      if (!this.subscribers.delete(sub)) return;
      this.lostByGone += sub.lost;
      sub.discard();
    };
    call.on('cancelled', gone);
    call.on('error', gone);
    call.on('close', gone);
    // Headers now tell the client its subscription is in place (it reports the node up then).
    call.sendMetadata(new grpc.Metadata());
    // A subscriber that arrives after the rules were read still learns the services.
    if (this.catalog) sub.offer([this.catalog]);
    // And the connections open now: for it, those are what was open when it began to listen.
    const snapshot = this.live.snapshot(Date.now() * 1000);
    if (snapshot.length > 0) sub.offer(snapshot);
  }

  /** SubscribeSummaries: a snapshot, then every summary of `source`, until it goes or leaves too much unread. */
  subscribeSummaries(call: SummaryCall, source: SummarySource): void {
    const peer = call.getPeer();
    const { maxSubscribers } = this.opts.limits;
    const count = this.subscribers.size + this.summarySubs.size;
    if (count >= maxSubscribers) {
      const details = `the agent serves at most ${maxSubscribers} subscribers at once and has ${count}; summary subscription from ${peer} refused (limit: agent --max-subscribers)`;
      this.hit('rejectedSubscribers', details);
      call.emit('error', { code: RESOURCE_EXHAUSTED, details });
      return;
    }
    this.summarySubs.add(call);
    const send = (encoded: Uint8Array) => {
      if (call.writableLength > MAX_SUMMARY_BACKLOG) {
        const details = `summary subscriber ${peer} left ${call.writableLength} bytes unread; its stream is cut`;
        this.hit('stalledSubscribers', details);
        gone();
        call.emit('error', { code: RESOURCE_EXHAUSTED, details });
        resetCall(call);
        return;
      }
      call.write(encoded);
    };
    const gone = () => {
      this.summarySubs.delete(call);
      source.off('summary', send);
    };
    call.on('cancelled', gone);
    call.on('error', gone);
    call.on('close', gone);
    call.sendMetadata(new grpc.Metadata());
    call.write(source.snapshot(this.live.snapshot(Date.now() * 1000)));
    source.on('summary', send);
  }

  info(): AgentInfo {
    let subscriberLost = this.lostByGone;
    for (const s of this.subscribers) subscriberLost += s.lost;
    const c = this.counters;
    return {
      nodeName: this.opts.node,
      kernelRelease: release(),
      attachPoints: this.opts.attachPoints ?? [],
      counters: c ? { insertFailed: c.insertFailed, drop: c.drop, earlyDrop: c.earlyDrop, entries: c.entries } : null,
      lostEvents: this.lostEvents,
      subscribers: this.subscribers.size + this.summarySubs.size,
      subscriberLost,
      services: this.catalog?.services.length ?? 0,
      limits: { ...this.opts.limitLog.counts },
      maxSubscribers: this.opts.limits.maxSubscribers,
      proxyMode: this.catalog?.proxyMode ?? '',
    };
  }

  /** Ends every stream after what is queued for it. */
  endAll(): void {
    for (const s of this.subscribers) s.end();
    for (const c of this.summarySubs) c.end();
  }

  /** The subscription's predicate, or null when it was refused (said to the client, counted, logged). */
  private admit(call: EventCall): EventPredicate | null {
    const peer = call.getPeer();
    const { maxSubscribers } = this.opts.limits;
    if (this.subscribers.size >= maxSubscribers) {
      const details = `the agent serves at most ${maxSubscribers} subscribers at once and has ${this.subscribers.size}; subscription from ${peer} refused (limit: agent --max-subscribers)`;
      this.hit('rejectedSubscribers', details);
      call.emit('error', { code: RESOURCE_EXHAUSTED, details });
      return null;
    }
    try {
      const { undecodable, ...filter } = call.request;
      if (undecodable !== undefined) throw new Error(undecodable);
      return compileFilter(validateFilter(filter));
    } catch (err) {
      const details = `invalid subscription filter from ${peer}: ${(err as Error).message}`;
      this.hit('invalidFilters', details);
      call.emit('error', { code: INVALID_ARGUMENT, details });
      return null;
    }
  }
}
