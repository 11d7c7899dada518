// Conversion between the typed events of src/core/event.ts and the wire messages of
// proto/stickyscope.proto. The same EventBatch bytes travel over gRPC and fill trace
// files, so this is the one place that knows the mapping.
import protobuf from 'protobufjs/minimal.js';
import { InputError } from '../core/errors.js';
import type { FlowEvent, Proto, ServiceInfo, StickyEvent } from '../core/event.js';
import { connFromWire, connToWire } from './conn-wire.js';
import { nodesFromWire, nodesToWire, topologyFromWire, topologyToWire } from './topology-wire.js';
import { decodeBatchFast } from './batch-decoder.js';
import { encodeBatchFast, encodeBatchIndexed, type IndexedBatch } from './batch-encoder.js';
import { stickyscope } from './generated/stickyscope.js';
import {
  affinityModeNumber,
  affinitySourceByNumber,
  affinitySourceNumber,
  hookByNumber,
  hookNumber,
  protoByNumber,
  protoNumber,
} from './tags.js';

// The codec generated from the .proto at build time (scripts/gen-proto.mjs), and its message types.
const { EventBatch, Event, Filter, InfoRequest, AgentInfo: AgentInfoMessage } = stickyscope.v1;
type WireFlow = stickyscope.v1.Flow.$Properties;
type WireCounters = stickyscope.v1.Counters.$Properties;
type WireService = stickyscope.v1.ServiceInfo.$Properties;
type WireEvent = stickyscope.v1.Event.$Properties;

/** uint64 fields decode as Long objects (long.js is installed); event counts fit a double. */
type Uint64 = number | { toNumber(): number };
const num = (v: Uint64 | undefined | null): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

/** What a subscriber asks the agent for; empty lists match everything. */
export interface EventFilter {
  services?: string[];
  clients?: string[];
  protos?: Proto[];
}

export interface AgentInfo {
  nodeName: string;
  kernelRelease: string;
  attachPoints: string[];
  counters: { insertFailed: number; drop: number; earlyDrop: number; entries: number } | null;
  lostEvents: number;
  subscribers: number;
  subscriberLost: number;
  services: number;
  /** Limit hits since the agent started (src/agent/limits.ts); all 0 from agents older than the fields. */
  limits: AgentLimitCounts;
  /** 0 from agents older than the field. */
  maxSubscribers: number;
  /** "iptables", "nftables", or "" when not known (older agents, rules not read yet). */
  proxyMode: string;
}

export interface AgentLimitCounts {
  rejectedSubscribers: number;
  invalidFilters: number;
  oversizedMessages: number;
  stalledSubscribers: number;
  pingFloods: number;
}

function flowToWire(e: FlowEvent): WireFlow {
  const f: WireFlow = {
    proto: protoNumber[e.proto],
    client: e.client,
    service: e.service,
    backend: e.backend,
    hook: hookNumber[e.hook],
    ctId: e.ctId,
  };
  if (e.serviceName !== undefined) f.serviceName = e.serviceName;
  if (e.backendPod !== undefined) f.backendPod = e.backendPod;
  return f;
}

function serviceToWire(s: ServiceInfo): WireService {
  return {
    service: s.service,
    name: s.name ?? '',
    affinity: {
      mode: affinityModeNumber[s.affinity.mode],
      timeoutSeconds: s.affinity.timeoutSeconds ?? 0,
      source: affinitySourceNumber[s.affinity.source],
    },
    endpoints: s.endpoints,
    pods: s.pods,
    noEndpoints: s.noEndpoints ?? '',
    ...(s.topology ? { topology: topologyToWire(s.topology) } : {}),
  };
}

function eventToWire(e: StickyEvent, batchNode: string): WireEvent {
  const w: WireEvent = { ts: e.ts };
  if (e.node !== batchNode) w.node = e.node;
  switch (e.type) {
    case 'dnat':
      w.dnat = flowToWire(e);
      break;
    case 'snat':
      w.snat = flowToWire(e);
      w.snat.snat = e.snat;
      break;
    case 'insert':
      w.insert = flowToWire(e);
      break;
    case 'lost':
      w.lost = e.source === undefined ? { count: e.count } : { count: e.count, source: e.source };
      break;
    case 'open':
      w.open = connToWire(e);
      break;
    case 'close':
      w.close = connToWire(e);
      break;
    case 'traffic':
      w.traffic = connToWire(e);
      break;
    case 'sweep':
      w.sweep = { initial: e.initial, entries: e.entries, open: e.open, acct: e.acct, micros: e.micros };
      break;
    case 'counters':
      w.counters = { insertFailed: e.insertFailed, drop: e.drop, earlyDrop: e.earlyDrop, entries: e.entries };
      break;
    case 'catalog':
      w.catalog = { services: e.services.map(serviceToWire) };
      if (e.proxyMode !== undefined) w.catalog.proxyMode = e.proxyMode;
      if (e.nodes !== undefined) w.catalog.nodes = nodesToWire(e.nodes);
      break;
    case 'evicted':
      w.evicted = { list: e.list, endpoint: e.endpoint, client: e.client, capacity: e.capacity };
      if (e.since !== undefined) w.evicted.since = e.since;
      if (e.cause !== undefined) w.evicted.cause = e.cause;
      break;
    case 'affinitySets':
      w.affinitySets = { sets: e.sets.map((s) => ({ ...s })) };
      break;
    case 'rulesRead':
      // Never an Event: batch-encoder.ts writes it as EventBatch.rules_read in its place.
      throw new Error('failed to encode a rulesRead watermark as an Event: it is an EventBatch field');
    case 'node':
      w.nodeState = { up: e.state === 'up', reason: e.reason ?? '' };
      break;
  }
  return w;
}

// Decoded messages carry every field (defaults from their prototypes), though their types
// say optional: the `?? ''` and `?? 0` below only satisfy the types.
function flowFromWire(type: 'dnat' | 'snat' | 'insert', ts: number, node: string, f: WireFlow): StickyEvent {
  const proto = protoByNumber[f.proto ?? 0];
  const hook = hookByNumber[f.hook ?? 0];
  if (proto === undefined || hook === undefined)
    throw new Error(`failed to decode a ${type} event: proto ${f.proto} / hook ${f.hook} are not known values`);
  const e = {
    type,
    ts,
    node,
    proto,
    client: f.client ?? '',
    service: f.service ?? '',
    backend: f.backend ?? '',
    hook,
    ctId: f.ctId ?? '',
  } as StickyEvent & { serviceName?: string; backendPod?: string; snat?: string };
  if (f.serviceName) e.serviceName = f.serviceName;
  if (f.backendPod) e.backendPod = f.backendPod;
  if (type === 'snat') e.snat = f.snat ?? '';
  return e;
}

function serviceFromWire(s: WireService): ServiceInfo {
  const a = s.affinity ?? {};
  const out: ServiceInfo = {
    service: s.service ?? '',
    name: s.name ? s.name : null,
    affinity: {
      mode: a.mode === affinityModeNumber.ClientIP ? 'ClientIP' : 'None',
      timeoutSeconds: a.timeoutSeconds ? a.timeoutSeconds : null,
      source: affinitySourceByNumber[a.source ?? 0] ?? 'rules',
    },
    endpoints: s.endpoints ? [...s.endpoints] : [],
  };
  if (s.pods && Object.keys(s.pods).length > 0) out.pods = { ...s.pods };
  // An unknown word from a newer agent is left out rather than guessed at.
  if (s.noEndpoints === 'drop' || s.noEndpoints === 'reject') out.noEndpoints = s.noEndpoints;
  if (s.topology) out.topology = topologyFromWire(s.topology);
  return out;
}

function countersFromWire(c: WireCounters): { insertFailed: number; drop: number; earlyDrop: number; entries: number } {
  return { insertFailed: num(c.insertFailed), drop: num(c.drop), earlyDrop: num(c.earlyDrop), entries: num(c.entries) };
}

function eventFromWire(w: WireEvent, batchNode: string): StickyEvent {
  const ts = w.ts ?? 0;
  const node = w.node ? w.node : batchNode;
  if (w.dnat) return flowFromWire('dnat', ts, node, w.dnat);
  if (w.snat) return flowFromWire('snat', ts, node, w.snat);
  if (w.insert) return flowFromWire('insert', ts, node, w.insert);
  if (w.lost) {
    const e: StickyEvent = { type: 'lost', ts, node, count: num(w.lost.count) };
    if (w.lost.source === 'conntrack') e.source = 'conntrack';
    return e;
  }
  if (w.open) return connFromWire('open', ts, node, w.open);
  if (w.close) return connFromWire('close', ts, node, w.close);
  if (w.traffic) return connFromWire('traffic', ts, node, w.traffic);
  if (w.sweep) {
    const { initial, entries, open, acct, micros } = w.sweep;
    return {
      type: 'sweep',
      ts,
      node,
      initial: initial ?? false,
      entries: num(entries),
      open: num(open),
      acct: acct ?? false,
      micros: num(micros),
    };
  }
  if (w.counters) return { type: 'counters', ts, node, ...countersFromWire(w.counters) };
  if (w.catalog) {
    const e: StickyEvent = { type: 'catalog', ts, node, services: (w.catalog.services ?? []).map(serviceFromWire) };
    const mode = w.catalog.proxyMode;
    if (mode === 'iptables' || mode === 'nftables') e.proxyMode = mode;
    if (w.catalog.nodes?.length) e.nodes = nodesFromWire(w.catalog.nodes);
    return e;
  }
  if (w.evicted) {
    const v = w.evicted;
    const e: StickyEvent = {
      type: 'evicted',
      ts,
      node,
      list: v.list ?? '',
      endpoint: v.endpoint ?? '',
      client: v.client ?? '',
      capacity: v.capacity ?? 0,
    };
    if (v.since) e.since = v.since;
    if (v.cause === 'setFull') e.cause = 'setFull';
    return e;
  }
  if (w.affinitySets) {
    const sets = (w.affinitySets.sets ?? []).map((s) => ({
      set: s.set ?? '',
      service: s.service ?? '',
      endpoint: s.endpoint ?? '',
      elements: s.elements ?? 0,
      size: s.size ?? 0,
    }));
    return { type: 'affinitySets', ts, node, sets };
  }
  if (w.nodeState) {
    const e: StickyEvent = { type: 'node', ts, node, state: w.nodeState.up ? 'up' : 'down' };
    if (w.nodeState.reason) e.reason = w.nodeState.reason;
    return e;
  }
  throw new Error('failed to decode an event: it carries no known kind (written by a newer stickyscope?)');
}

/** One EventBatch message, as bytes: flows written by hand, the rest by protobufjs. */
export function encodeBatch(events: readonly StickyEvent[]): Uint8Array {
  return encodeBatchFast(events, encodeOtherEvent);
}

/** The same bytes as encodeBatch, with where each event starts (see IndexedBatch). */
export function encodeBatchWithIndex(events: readonly StickyEvent[]): IndexedBatch {
  return encodeBatchIndexed(events, encodeOtherEvent);
}

function encodeOtherEvent(e: StickyEvent, batchNode: string): Uint8Array {
  return Event.encode(eventToWire(e, batchNode)).finish();
}

/** The events of one EventBatch message. Throws InputError on bytes that are not one. */
export function decodeBatch(bytes: Uint8Array): StickyEvent[] {
  try {
    return decodeBatchFast(bytes, decodeOtherEvent);
  } catch {
    // Whatever the fast path does not take, protobufjs decodes, or rejects with its own error.
    return refused('an event batch', () => decodeBatchWithProtobufjs(bytes));
  }
}

/**
 * Runs a decoder, its rejections of the bytes as InputError: protobufjs's RangeError "index out of range", Error
 * "invalid wire type", the TextDecoder's TypeError for a string that is not UTF-8, ours. Any other TypeError or a
 * ReferenceError is a bug of the decoder, not bad bytes: it goes through.
 */
function refused<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    const notUtf8 = (err as { code?: string }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA';
    if (!(err instanceof Error) || (!notUtf8 && (err instanceof TypeError || err instanceof ReferenceError))) throw err;
    throw new InputError(`failed to decode ${what}: ${notUtf8 ? 'a string is not valid UTF-8' : err.message}`);
  }
}

/**
 * The generated decoders take the nesting depth (for protobufjs's recursion limit) as a 4th
 * argument, which their declared type leaves out (a function of fewer parameters fits this type);
 * they are static and need no `this`.
 */
type DecodeAtDepth = (r: protobuf.Reader, length: number, endGroup: undefined, depth: number) => WireEvent;
const decodeEventAtDepth: DecodeAtDepth = Event.decode;

/** One Event of a batch at bytes[start, end), decoded as protobufjs decodes it inside the batch (depth 1). */
function decodeOtherEvent(bytes: Uint8Array, start: number, end: number): StickyEvent {
  const r = protobuf.Reader.create(bytes);
  r.pos = start;
  return eventFromWire(decodeEventAtDepth(r, end - start, undefined, 1), '');
}

/**
 * protobufjs gathers the watermarks apart from the events, losing their place: they go last, which settles pending
 * verdicts a batch later at most (they are judged by their times, not by where they come).
 */
function decodeBatchWithProtobufjs(bytes: Uint8Array): StickyEvent[] {
  const wire = EventBatch.decode(bytes);
  const events = wire.events.map((w) => eventFromWire(w, wire.node));
  for (const r of wire.rulesRead)
    events.push({ type: 'rulesRead', ts: r.ts ?? 0, node: r.node ? r.node : wire.node, readAt: r.readAt ?? 0 });
  return events;
}

export function encodeFilter(f: EventFilter): Uint8Array {
  return Filter.encode({
    services: f.services ?? [],
    clients: f.clients ?? [],
    protos: (f.protos ?? []).map((p) => protoNumber[p]),
  }).finish();
}

export function decodeFilter(bytes: Uint8Array): EventFilter {
  const w = refused('a filter', () => Filter.decode(bytes));
  const ps = w.protos.map((n) => protoByNumber[n]);
  const bad = ps.findIndex((p) => p === undefined);
  if (bad >= 0)
    throw new InputError(
      `failed to decode a filter: protos[${bad}] is protocol number ${w.protos[bad]}, not a known one (expected 1=tcp, 2=udp, 3=sctp)`,
    );
  return { services: [...w.services], clients: [...w.clients], protos: ps as Proto[] };
}

export function encodeInfoRequest(): Uint8Array {
  return InfoRequest.encode({}).finish();
}

export function decodeInfoRequest(bytes: Uint8Array): Record<string, never> {
  refused('an Info request', () => InfoRequest.decode(bytes));
  return {};
}

export function encodeInfo(info: AgentInfo): Uint8Array {
  const { limits, ...rest } = info;
  return AgentInfoMessage.encode({ ...rest, ...limits, counters: info.counters ?? undefined }).finish();
}

export function decodeInfo(bytes: Uint8Array): AgentInfo {
  const w = refused('an agent Info', () => AgentInfoMessage.decode(bytes));
  return {
    nodeName: w.nodeName,
    kernelRelease: w.kernelRelease,
    attachPoints: [...w.attachPoints],
    counters: w.counters ? countersFromWire(w.counters) : null,
    lostEvents: num(w.lostEvents),
    subscribers: w.subscribers,
    subscriberLost: num(w.subscriberLost),
    services: w.services,
    limits: {
      rejectedSubscribers: num(w.rejectedSubscribers),
      invalidFilters: num(w.invalidFilters),
      oversizedMessages: num(w.oversizedMessages),
      stalledSubscribers: num(w.stalledSubscribers),
      pingFloods: num(w.pingFloods),
    },
    maxSubscribers: w.maxSubscribers,
    proxyMode: w.proxyMode,
  };
}
