// One Subscribe call: a bounded queue between the probe and a gRPC stream. Offering never blocks, so a subscriber that
// stops reading never slows the probe or the others; what does not fit is handed to it as a `lost` count at the gap.
// One that reads nothing while its queue overflows for longer than the stall timeout is handed to `onStalled`. The
// queue holds encoded events: subscribers without a filter share the bytes the server encoded once for all.
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { CatalogEvent, StickyEvent } from '../core/event.js';
import type { EventPredicate } from '../protocol/event-filter.js';
import type { BatchMessage, SubscribeRequest } from '../protocol/service-def.js';
import { encodeBatchWithIndex } from '../protocol/wire.js';
import type { IndexedBatch } from '../protocol/batch-encoder.js';

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

/** Events [from, to) of an encoded batch, still to be sent. */
interface Chunk {
  batch: IndexedBatch;
  from: number;
  to: number;
}

export class Subscriber {
  /** Events this subscriber missed because it did not read fast enough. */
  lost = 0;
  private chunks: Chunk[] = [];
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
    readonly call: ServerWritableStream<SubscribeRequest, BatchMessage>,
    /** Null: takes every event (and the shared encoding offered with them). */
    private readonly accepts: EventPredicate | null,
    private readonly opts: SubscriberOptions,
  ) {}

  /** Without a filter: the server's one encoding of what it offers is this subscriber's too. */
  get takesAll(): boolean {
    return this.accepts === null;
  }

  /** `encoded`, the events' encoding, is used when this subscriber takes them all (no filter). */
  offer(events: readonly StickyEvent[], encoded?: IndexedBatch): void {
    if (this.closed) return;
    const passing = this.accepts === null ? events : events.filter(this.accepts);
    if (passing.length === 0) return;
    const batch = this.accepts === null && encoded ? encoded : encodeBatchWithIndex(passing);
    let room = this.opts.maxBuffered - this.queued;
    if (room > 0 && (this.missed > 0 || this.missedCatalog)) room -= this.queueGapNotice();
    if (room >= passing.length) this.enqueue(batch, passing.length);
    else {
      if (room > 0) this.enqueue(batch, room);
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
    if (notice.length > 0) this.enqueue(encodeBatchWithIndex(notice), notice.length);
    return notice.length;
  }

  /** The first `count` events of `batch`. */
  private enqueue(batch: IndexedBatch, count: number): void {
    this.chunks.push({ batch, from: 0, to: count });
    this.queued += count;
  }

  /**
   * One message of at most `max` events: a whole encoded batch as it is, else the batch node field of the first chunk
   * followed by the events' bytes, from chunks of the same batch node.
   */
  private take(max: number): Buffer {
    const first = this.chunks[0]!;
    const whole = first.from === 0 && first.to === first.batch.starts.length - 1;
    if (whole && first.to <= max && (this.chunks.length === 1 || first.to + this.count(this.chunks[1]!) > max)) {
      this.chunks.shift();
      this.queued -= first.to;
      return first.batch.bytes;
    }
    const node = first.batch.node;
    const header = first.batch.starts[0]!;
    const parts: { bytes: Buffer; start: number; end: number }[] = [];
    let size = header;
    let n = 0;
    while (n < max && this.chunks.length > 0 && this.chunks[0]!.batch.node === node) {
      const c = this.chunks[0]!;
      const k = Math.min(max - n, c.to - c.from);
      const start = c.batch.starts[c.from]!;
      const end = c.batch.starts[c.from + k]!;
      parts.push({ bytes: c.batch.bytes, start, end });
      size += end - start;
      n += k;
      c.from += k;
      if (c.from === c.to) this.chunks.shift();
    }
    const msg = Buffer.allocUnsafe(size);
    first.batch.bytes.copy(msg, 0, 0, header);
    let at = header;
    for (const p of parts) at += p.bytes.copy(msg, at, p.start, p.end);
    this.queued -= n;
    return msg;
  }

  private count(c: Chunk): number {
    return c.to - c.from;
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
