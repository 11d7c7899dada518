// One Subscribe call: a bounded queue between the probe and a gRPC stream. Offering never blocks, so a subscriber that
// stops reading never slows the probe or the others; what does not fit is handed to it as a `lost` count at the gap.
// One that reads nothing while its queue overflows for longer than the stall timeout is handed to `onStalled`.
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { CatalogEvent, StickyEvent } from '../core/event.js';
import type { EventPredicate } from './filter.js';
import type { SubscribeRequest } from '../protocol/service-def.js';

export interface SubscriberOptions {
  node: string;
  /** Events held for this subscriber at most (beyond what gRPC itself buffers). */
  maxBuffered: number;
  /** Events per EventBatch message at most. */
  maxBatch: number;
  /** How long the queue may overflow with nothing read before onStalled is called. */
  stallTimeoutMs: number;
  /** Called once, when the subscriber has read nothing for stallTimeoutMs while events were dropped for it. */
  onStalled(sub: Subscriber, overflowingMs: number): void;
}

export class Subscriber {
  /** Events this subscriber missed because it did not read fast enough. */
  lost = 0;
  private chunks: StickyEvent[][] = [];
  private queued = 0;
  /** Missed since the last `lost` event was queued. */
  private missed = 0;
  /** The newest catalog that did not fit: a subscriber needs it more than the flows it missed. */
  private missedCatalog: CatalogEvent | null = null;
  private waitingDrain = false;
  private closed = false;
  /** performance.now() of the first drop since the subscriber last read; 0 while nothing is dropped. */
  private overflowingSince = 0;

  constructor(
    readonly call: ServerWritableStream<SubscribeRequest, StickyEvent[]>,
    private readonly accepts: EventPredicate,
    private readonly opts: SubscriberOptions,
  ) {}

  offer(events: readonly StickyEvent[]): void {
    if (this.closed) return;
    const passing = events.filter(this.accepts);
    if (passing.length === 0) return;
    let room = this.opts.maxBuffered - this.queued;
    if (room > 0 && (this.missed > 0 || this.missedCatalog)) room -= this.queueGapNotice();
    if (room >= passing.length) this.enqueue(passing);
    else {
      if (room > 0) this.enqueue(passing.slice(0, room));
      for (let i = Math.max(room, 0); i < passing.length; i++) this.drop(passing[i]!);
      const now = performance.now();
      if (this.overflowingSince === 0) this.overflowingSince = now;
      else if (now - this.overflowingSince > this.opts.stallTimeoutMs) {
        this.discard();
        this.opts.onStalled(this, now - this.overflowingSince);
        return;
      }
    }
    this.pump();
  }

  /** Hands everything queued to gRPC (past its buffer limit: this is the last of it), then ends the stream. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.missed > 0 || this.missedCatalog) this.queueGapNotice();
    while (this.queued > 0) this.call.write(this.take(this.opts.maxBatch));
    this.call.end();
  }

  /** The call is gone (cancelled by the client, or failed): stop holding events for it. */
  discard(): void {
    this.closed = true;
    this.chunks = [];
    this.queued = 0;
  }

  private drop(e: StickyEvent): void {
    if (e.type === 'catalog') {
      this.missedCatalog = e;
      return;
    }
    const n = e.type === 'lost' ? e.count : 1;
    this.missed += n;
    this.lost += n;
  }

  /** Queues the `lost` count (and the newest dropped catalog); returns how many events that took. */
  private queueGapNotice(): number {
    const notice: StickyEvent[] = [];
    if (this.missed > 0) notice.push({ type: 'lost', ts: Date.now() * 1000, node: this.opts.node, count: this.missed });
    if (this.missedCatalog) notice.push(this.missedCatalog);
    this.missed = 0;
    this.missedCatalog = null;
    this.enqueue(notice);
    return notice.length;
  }

  private enqueue(events: StickyEvent[]): void {
    if (events.length === 0) return;
    this.chunks.push(events);
    this.queued += events.length;
  }

  private take(max: number): StickyEvent[] {
    const first = this.chunks[0]!;
    if (first.length <= max && (this.chunks.length === 1 || first.length + this.chunks[1]!.length > max)) {
      this.chunks.shift();
      this.queued -= first.length;
      return first;
    }
    const out: StickyEvent[] = [];
    while (out.length < max && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const n = Math.min(max - out.length, c.length);
      for (let i = 0; i < n; i++) out.push(c[i]!);
      if (n === c.length) this.chunks.shift();
      else this.chunks[0] = c.slice(n);
    }
    this.queued -= out.length;
    return out;
  }

  private pump(): void {
    if (this.closed || this.waitingDrain) return;
    for (;;) {
      if (this.queued === 0 && (this.missed > 0 || this.missedCatalog)) this.queueGapNotice();
      if (this.queued === 0) return;
      if (!this.call.write(this.take(this.opts.maxBatch))) break;
    }
    this.waitingDrain = true;
    this.call.once('drain', () => {
      this.waitingDrain = false;
      this.overflowingSince = 0;
      this.pump();
    });
  }
}
