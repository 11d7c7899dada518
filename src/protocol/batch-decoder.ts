// A hand-written decoder for the one hot message, EventBatch, whose flow events arrive by the million when a trace is
// reported; it takes only the well-formed common path and leaves everything else to protobufjs (see decodeBatchFast).
import protobuf from 'protobufjs/minimal.js';
import type { FlowEvent, StickyEvent } from '../core/event.js';
import {
  BatchField,
  EventField,
  FIXED64,
  FlowField,
  hookByNumber,
  LEN,
  protoByNumber,
  RulesReadField,
  tag,
  VARINT,
} from './tags.js';

/** Decodes the Event message at bytes[start, end) with protobufjs; its node is '' when it names none. */
export type DecodeOtherEvent = (bytes: Uint8Array, start: number, end: number) => StickyEvent;

/** Thrown to abandon the fast path. */
const GIVE_UP = new Error(
  'failed to decode an EventBatch on the fast path: it holds something only protobufjs decodes',
);

// Wire tags (field number << 3 | wire type) this decoder knows.
const BATCH_NODE = tag(BatchField.node, LEN);
const BATCH_EVENT = tag(BatchField.events, LEN);
const BATCH_RULES_READ = tag(BatchField.rulesRead, LEN);
const READ_TS = tag(RulesReadField.ts, FIXED64);
const READ_NODE = tag(RulesReadField.node, LEN);
const READ_AT = tag(RulesReadField.readAt, FIXED64);
const EVENT_TS = tag(EventField.ts, FIXED64);
const EVENT_NODE = tag(EventField.node, LEN);
const EVENT_DNAT = tag(EventField.dnat, LEN);
const EVENT_SNAT = tag(EventField.snat, LEN);
const EVENT_INSERT = tag(EventField.insert, LEN);
const EVENT_OTHER_KINDS: readonly number[] = [
  EventField.lost,
  EventField.counters,
  EventField.catalog,
  EventField.evicted,
  EventField.nodeState,
  EventField.affinitySets,
  EventField.open,
  EventField.close,
  EventField.traffic,
  EventField.sweep,
].map((field) => tag(field, LEN));
const FLOW_PROTO = tag(FlowField.proto, VARINT);
const FLOW_CLIENT = tag(FlowField.client, LEN);
const FLOW_SERVICE = tag(FlowField.service, LEN);
const FLOW_BACKEND = tag(FlowField.backend, LEN);
const FLOW_HOOK = tag(FlowField.hook, VARINT);
const FLOW_CT_ID = tag(FlowField.ctId, LEN);
const FLOW_SERVICE_NAME = tag(FlowField.serviceName, LEN);
const FLOW_BACKEND_POD = tag(FlowField.backendPod, LEN);
const FLOW_SNAT = tag(FlowField.snat, LEN);

const CACHE_SLOTS = 4096;
const MAX_CACHED_BYTES = 64;
/** Recently decoded strings of repeating fields, by a hash of their bytes. */
const cache: string[] = new Array<string>(CACHE_SLOTS).fill('');

const bufferUtf8Slice = (
  Buffer.prototype as unknown as { utf8Slice?: (this: Uint8Array, start: number, end: number) => string }
).utf8Slice;

/** One pass over the bytes; `text` turns a byte range into a string as protobufjs's reader does. */
class Cursor {
  pos = 0;
  private readonly view: DataView;
  constructor(
    readonly buf: Uint8Array,
    private readonly text: (buf: Uint8Array, start: number, end: number) => string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A varint of at most 4 bytes (below 2^28), not reaching past `end`. */
  varint(end: number): number {
    const buf = this.buf;
    let p = this.pos;
    if (p >= end) throw GIVE_UP;
    let b = buf[p++]!;
    let v = b & 0x7f;
    if (b >= 0x80) {
      if (p >= end) throw GIVE_UP;
      b = buf[p++]!;
      v |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        if (p >= end) throw GIVE_UP;
        b = buf[p++]!;
        v |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          if (p >= end) throw GIVE_UP;
          b = buf[p++]!;
          if (b >= 0x80) throw GIVE_UP;
          v |= b << 21;
        }
      }
    }
    this.pos = p;
    return v;
  }

  /** The end offset of a length-delimited field's contents, which must lie within `end`. */
  delimited(end: number): number {
    const len = this.varint(end);
    const stop = this.pos + len;
    if (stop > end) throw GIVE_UP;
    return stop;
  }

  string(end: number): string {
    const stop = this.delimited(end);
    const start = this.pos;
    this.pos = stop;
    return stop === start ? '' : this.text(this.buf, start, stop);
  }

  /**
   * For fields that repeat across events (service, backend, node, names): the string
   * decoded last time from the same bytes, which is cheaper than a new one and lets
   * the aggregator's map lookups and compares find an identical string.
   */
  repeatedString(end: number): string {
    const stop = this.delimited(end);
    const start = this.pos;
    this.pos = stop;
    const n = stop - start;
    if (n === 0) return '';
    if (n > MAX_CACHED_BYTES) return this.text(this.buf, start, stop);
    const buf = this.buf;
    let h = n;
    for (let i = start; i < stop; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h ^ (h >>> 16)) & (CACHE_SLOTS - 1);
    const s = cache[slot]!;
    if (s.length === n) {
      // Only ASCII bytes can match: they alone decode to one char of the same code.
      let i = 0;
      for (; i < n; i++) {
        const b = buf[start + i]!;
        if (b >= 0x80 || s.charCodeAt(i) !== b) break;
      }
      if (i === n) return s;
    }
    const text = this.text(buf, start, stop);
    cache[slot] = text;
    return text;
  }

  double(end: number): number {
    const p = this.pos;
    if (p + 8 > end) throw GIVE_UP;
    this.pos = p + 8;
    return this.view.getFloat64(p, true);
  }

  /** Skips a field this decoder does not use, as protobufjs skips unknown fields. */
  skip(tag: number, end: number): void {
    if (tag >>> 3 === 0) throw GIVE_UP;
    switch (tag & 7) {
      case 0: {
        // Any length, as protobufjs skips it (a newer int64 field may take 10 bytes).
        let p = this.pos;
        do if (p >= end) throw GIVE_UP;
        while (this.buf[p++]! >= 0x80);
        this.pos = p;
        return;
      }
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.delimited(end);
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw GIVE_UP;
    }
    if (this.pos > end) throw GIVE_UP;
  }
}

/**
 * The events of one EventBatch; throws where protobufjs must decide. protobufjs's generated decoder costs several times
 * more per event (it builds message objects, then deletes properties to keep the `kind` oneof consistent, which sends
 * V8 to slow dictionary objects). protobufjs stays the definition of what bytes mean: this gives up on anything off
 * the common path - varints of more than 4 bytes, groups, field number 0, a kind given twice, unknown enum values,
 * invalid UTF-8, reads past a message's end - so the caller decodes those batches with protobufjs and gets exactly its
 * result or its error. Events of the rare kinds (lost, counters, catalog, evicted, node state) go to `decodeOther`.
 */
export function decodeBatchFast(bytes: Uint8Array, decodeOther: DecodeOtherEvent): StickyEvent[] {
  const text = Buffer.isBuffer(bytes) && bufferUtf8Slice ? bufferText : protobufText;
  const c = new Cursor(bytes, text);
  const end = bytes.length;
  const events: StickyEvent[] = [];
  let batchNode = '';
  while (c.pos < end) {
    const tag = c.varint(end);
    if (tag === BATCH_EVENT) {
      const stop = c.delimited(end);
      events.push(decodeEvent(c, stop, decodeOther));
      c.pos = stop;
    } else if (tag === BATCH_NODE) batchNode = c.repeatedString(end);
    else if (tag === BATCH_RULES_READ) events.push(decodeRulesRead(c, c.delimited(end)));
    else c.skip(tag, end);
  }
  // Events name their node only where it differs from the batch's, which may come last.
  if (batchNode !== '') for (const e of events) if (e.node === '') e.node = batchNode;
  return events;
}

/** A watermark, kept in its place among the events (protobufjs would gather them in an array of their own). */
function decodeRulesRead(c: Cursor, end: number): StickyEvent {
  let ts = 0;
  let node = '';
  let readAt = 0;
  while (c.pos < end) {
    const tag = c.varint(end);
    if (tag === READ_TS) ts = c.double(end);
    else if (tag === READ_NODE) node = c.repeatedString(end);
    else if (tag === READ_AT) readAt = c.double(end);
    else c.skip(tag, end);
  }
  c.pos = end;
  return { type: 'rulesRead', ts, node, readAt };
}

function decodeEvent(c: Cursor, end: number, decodeOther: DecodeOtherEvent): StickyEvent {
  const start = c.pos;
  let ts = 0;
  let node = '';
  let flow: FlowEvent | null = null;
  while (c.pos < end) {
    const tag = c.varint(end);
    if (tag === EVENT_TS) ts = c.double(end);
    else if (tag === EVENT_NODE) node = c.repeatedString(end);
    else if (tag === EVENT_DNAT || tag === EVENT_SNAT || tag === EVENT_INSERT) {
      // A second kind replaces or merges into the first in protobufjs: rare, left to it.
      if (flow !== null) throw GIVE_UP;
      flow = decodeFlow(c, c.delimited(end), tag === EVENT_DNAT ? 'dnat' : tag === EVENT_SNAT ? 'snat' : 'insert');
    } else if (EVENT_OTHER_KINDS.includes(tag)) {
      return decodeOther(c.buf, start, end);
    } else c.skip(tag, end);
  }
  if (flow === null) throw GIVE_UP;
  flow.ts = ts;
  flow.node = node;
  return flow;
}

function decodeFlow(c: Cursor, end: number, type: FlowEvent['type']): FlowEvent {
  let proto = 0;
  let hook = 0;
  let client = '';
  let service = '';
  let backend = '';
  let ctId = '';
  let serviceName = '';
  let backendPod = '';
  let snat = '';
  while (c.pos < end) {
    const tag = c.varint(end);
    switch (tag) {
      case FLOW_PROTO:
        proto = c.varint(end);
        break;
      case FLOW_CLIENT:
        client = c.string(end);
        break;
      case FLOW_SERVICE:
        service = c.repeatedString(end);
        break;
      case FLOW_BACKEND:
        backend = c.repeatedString(end);
        break;
      case FLOW_HOOK:
        hook = c.varint(end);
        break;
      case FLOW_CT_ID:
        ctId = c.string(end);
        break;
      case FLOW_SERVICE_NAME:
        serviceName = c.repeatedString(end);
        break;
      case FLOW_BACKEND_POD:
        backendPod = c.repeatedString(end);
        break;
      case FLOW_SNAT:
        snat = c.string(end);
        break;
      default:
        c.skip(tag, end);
    }
  }
  c.pos = end;
  const p = protoByNumber[proto];
  const h = hookByNumber[hook];
  if (p === undefined || h === undefined) throw GIVE_UP;
  // Same properties in the same order as wire.ts's protobufjs path builds.
  const e = { type, ts: 0, node: '', proto: p, client, service, backend, hook: h, ctId } as FlowEvent & {
    snat?: string;
  };
  if (serviceName !== '') e.serviceName = serviceName;
  if (backendPod !== '') e.backendPod = backendPod;
  if (type === 'snat') e.snat = snat;
  return e;
}

/**
 * protobufjs reads strings with UTF-8 validation: invalid bytes make it throw. ASCII
 * (nearly every string here) reads the same either way, and only ASCII gives a string of
 * as many chars as bytes with no replacement char (a valid multi-byte sequence
 * shortens it; an invalid byte becomes U+FFFD); anything else gets protobufjs's reader.
 */
function bufferText(buf: Uint8Array, start: number, end: number): string {
  const s = bufferUtf8Slice!.call(buf, start, end);
  return s.length === end - start && s.indexOf('\uFFFD') === -1 ? s : protobuf.util.utf8.readStrict(buf, start, end);
}

function protobufText(buf: Uint8Array, start: number, end: number): string {
  return protobuf.util.utf8.readStrict(buf, start, end);
}
