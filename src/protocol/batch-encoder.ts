// A hand-written encoder for the one hot message, EventBatch, whose flow events the agent sends by the hundred
// thousand a second; it writes exactly the bytes protobufjs writes, so traces and streams do not change.
import protobuf from 'protobufjs/minimal.js';
import type { FlowEvent, RulesReadEvent, StickyEvent } from '../core/event.js';
import {
  BatchField,
  EventField,
  FIXED64,
  FlowField,
  hookNumber,
  LEN,
  protoNumber,
  RulesReadField,
  tag,
  VARINT,
} from './tags.js';

/** The Event message of `e` (its node omitted when it is `batchNode`), as protobufjs encodes it. */
export type EncodeOtherEvent = (e: StickyEvent, batchNode: string) => Uint8Array;

const kindTag = {
  dnat: tag(EventField.dnat, LEN),
  snat: tag(EventField.snat, LEN),
  insert: tag(EventField.insert, LEN),
} as const;

// Every tag below is a single byte (field number < 16), written as such.
const BATCH_NODE = tag(BatchField.node, LEN);
const BATCH_EVENT = tag(BatchField.events, LEN);
const BATCH_RULES_READ = tag(BatchField.rulesRead, LEN);
const READ_TS = tag(RulesReadField.ts, FIXED64);
const READ_NODE = tag(RulesReadField.node, LEN);
const READ_AT = tag(RulesReadField.readAt, FIXED64);
const EVENT_TS = tag(EventField.ts, FIXED64);
const EVENT_NODE = tag(EventField.node, LEN);
const FLOW_PROTO = tag(FlowField.proto, VARINT);
const FLOW_CLIENT = tag(FlowField.client, LEN);
const FLOW_SERVICE = tag(FlowField.service, LEN);
const FLOW_BACKEND = tag(FlowField.backend, LEN);
const FLOW_HOOK = tag(FlowField.hook, VARINT);
const FLOW_CT_ID = tag(FlowField.ctId, LEN);
const FLOW_SERVICE_NAME = tag(FlowField.serviceName, LEN);
const FLOW_BACKEND_POD = tag(FlowField.backendPod, LEN);
const FLOW_SNAT = tag(FlowField.snat, LEN);

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/**
 * Sizes are predicted from string lengths (one byte per char, as ASCII is) so each
 * length prefix is written once in place; a string that is not ASCII makes the
 * enclosing message longer than predicted, and its bytes are moved to fit.
 */
class Output {
  buf = Buffer.allocUnsafe(1 << 16);
  view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  varint(n: number): void {
    const buf = this.buf;
    while (n >= 0x80) {
      buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[this.pos++] = n;
  }

  /** A string field unless empty; room for it is reserved by the caller (3 bytes a char + 6). */
  string(tag: number, s: string | undefined): void {
    if (s == null || s === '') return;
    const buf = this.buf;
    buf[this.pos++] = tag;
    const at = this.pos;
    const len = s.length;
    if (len < 0x80) {
      // ASCII, as addresses and names are, is its own UTF-8: a loop here beats a native call per string.
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + 1 + i] = c;
      }
      if (i === len) {
        buf[at] = len;
        this.pos = at + 1 + len;
        return;
      }
    }
    const n = protobuf.util.utf8.length(s);
    this.varint(n);
    protobuf.util.utf8.write(s, buf, this.pos);
    this.pos += n;
  }

  /** Writes `len` as the varint at `at`, where `predicted` bytes of room were left; moves what follows if it needs more or fewer. */
  patchLength(at: number, predicted: number, len: number): void {
    const need = varintSize(len);
    if (need !== predicted) {
      this.reserve(need - predicted);
      this.buf.copyWithin(at + need, at + predicted, this.pos);
      this.pos += need - predicted;
    }
    const buf = this.buf;
    let p = at;
    while (len >= 0x80) {
      buf[p++] = (len & 0x7f) | 0x80;
      len >>>= 7;
    }
    buf[p] = len;
  }
}

const out = new Output();

/** Bytes of a flow's fields if every string is ASCII; also bounds the room writing it needs (times 3). */
function flowChars(e: FlowEvent & { snat?: string }): number {
  const n =
    2 +
    2 +
    stringSize(e.client) +
    stringSize(e.service) +
    stringSize(e.backend) +
    stringSize(e.ctId) +
    stringSize(e.serviceName) +
    stringSize(e.backendPod);
  return e.type === 'snat' ? n + stringSize(e.snat) : n;
}

function stringSize(s: string | undefined): number {
  return s == null || s === '' ? 0 : 1 + varintSize(s.length) + s.length;
}

function writeFlow(o: Output, e: FlowEvent & { snat?: string }): void {
  const buf = o.buf;
  const proto = protoNumber[e.proto];
  if (proto !== undefined) {
    buf[o.pos++] = FLOW_PROTO;
    buf[o.pos++] = proto;
  }
  o.string(FLOW_CLIENT, e.client);
  o.string(FLOW_SERVICE, e.service);
  o.string(FLOW_BACKEND, e.backend);
  const hook = hookNumber[e.hook];
  if (hook !== undefined) {
    o.buf[o.pos++] = FLOW_HOOK;
    o.buf[o.pos++] = hook;
  }
  o.string(FLOW_CT_ID, e.ctId);
  o.string(FLOW_SERVICE_NAME, e.serviceName);
  o.string(FLOW_BACKEND_POD, e.backendPod);
  if (e.type === 'snat') o.string(FLOW_SNAT, e.snat);
}

function writeFlowEvent(o: Output, e: FlowEvent, batchNode: string): void {
  const flowPredicted = flowChars(e);
  const nodeField = e.node !== batchNode;
  const ts = e.ts;
  const tsField = ts != null && !Object.is(ts, 0);
  const eventPredicted =
    (tsField ? 9 : 0) + (nodeField ? stringSize(e.node) : 0) + 1 + varintSize(flowPredicted) + flowPredicted;
  o.reserve(3 * (eventPredicted + 8));
  o.buf[o.pos++] = BATCH_EVENT;
  const eventLenAt = o.pos;
  const eventLenSize = varintSize(eventPredicted);
  o.pos += eventLenSize;
  const eventStart = o.pos;
  if (tsField) {
    o.buf[o.pos++] = EVENT_TS;
    o.view.setFloat64(o.pos, ts, true);
    o.pos += 8;
  }
  if (nodeField) o.string(EVENT_NODE, e.node);
  o.buf[o.pos++] = kindTag[e.type];
  const flowLenAt = o.pos;
  const flowLenSize = varintSize(flowPredicted);
  o.pos += flowLenSize;
  const flowStart = o.pos;
  writeFlow(o, e);
  const flowLen = o.pos - flowStart;
  o.patchLength(flowLenAt, flowLenSize, flowLen);
  o.patchLength(eventLenAt, eventLenSize, o.pos - eventStart);
}

/** A watermark as an EventBatch.rules_read field, in its place among the events (proto3 defaults left out). */
function writeRulesRead(o: Output, e: RulesReadEvent, batchNode: string): void {
  const node = e.node !== batchNode ? e.node : '';
  o.reserve(3 * node.length + 32);
  o.buf[o.pos++] = BATCH_RULES_READ;
  const lenAt = o.pos;
  const predicted = (Object.is(e.ts, 0) ? 0 : 9) + stringSize(node) + (Object.is(e.readAt, 0) ? 0 : 9);
  const lenSize = varintSize(predicted);
  o.pos += lenSize;
  const start = o.pos;
  for (const [t, v] of [
    [READ_TS, e.ts],
    [READ_AT, e.readAt],
  ] as const) {
    if (t === READ_AT) o.string(READ_NODE, node);
    if (Object.is(v, 0)) continue;
    o.buf[o.pos++] = t;
    o.view.setFloat64(o.pos, v, true);
    o.pos += 8;
  }
  o.patchLength(lenAt, lenSize, o.pos - start);
}

/**
 * One EventBatch message, as protobufjs encodes `{ node: events[0].node, events }`: the
 * node most of a batch's events come from (usually all of them), so each event can omit it.
 *
 * protobufjs's generated encoder builds a wire object per event and a linked list of write operations per field, then
 * walks it: the garbage alone cost the agent a third of its time. This writes fields in field-number order and leaves
 * proto3 defaults out (empty strings, a ts of +0, enum 0), as protobufjs does. Events of the rare kinds (lost,
 * counters, catalog, evicted, node state) come from `encodeOther`, protobufjs's encoding of that one Event.
 */
export function encodeBatchFast(events: readonly StickyEvent[], encodeOther: EncodeOtherEvent): Buffer {
  return encodeBatchIndexed(events, encodeOther).bytes;
}

/**
 * An encoded EventBatch and where each event's field starts in it: the batch node field fills [0, starts[0]), event i
 * fills [starts[i], starts[i + 1]). Repeated fields concatenate, so that header followed by any run of these events'
 * bytes is itself an EventBatch of exactly those events: the agent encodes once and sends slices to every subscriber.
 */
export interface IndexedBatch {
  bytes: Buffer;
  /** The batch's node field: events from this node carry none of their own. */
  node: string;
  /** events.length + 1 offsets; the last is bytes.length. */
  starts: Uint32Array;
}

export function encodeBatchIndexed(events: readonly StickyEvent[], encodeOther: EncodeOtherEvent): IndexedBatch {
  const o = out;
  o.pos = 0;
  const batchNode = events.length > 0 ? events[0]!.node : '';
  const starts = new Uint32Array(events.length + 1);
  o.reserve(3 * batchNode.length + 8);
  o.string(BATCH_NODE, batchNode);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    starts[i] = o.pos;
    if (e.type === 'dnat' || e.type === 'snat' || e.type === 'insert') writeFlowEvent(o, e, batchNode);
    else if (e.type === 'rulesRead') writeRulesRead(o, e, batchNode);
    else {
      const bytes = encodeOther(e, batchNode);
      o.reserve(bytes.length + 6);
      o.buf[o.pos++] = BATCH_EVENT;
      o.varint(bytes.length);
      o.buf.set(bytes, o.pos);
      o.pos += bytes.length;
    }
  }
  starts[events.length] = o.pos;
  // The scratch buffer is written again by the next batch; the message keeps its own copy.
  const msg = Buffer.allocUnsafe(o.pos);
  o.buf.copy(msg, 0, 0, o.pos);
  return { bytes: msg, node: batchNode, starts };
}
