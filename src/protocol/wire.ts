// Conversion between the typed events of src/core/event.ts and the wire messages of
// proto/stickyscope.proto. The same EventBatch bytes travel over gRPC and fill trace
// files, so this is the one place that knows the mapping.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { FlowEvent, Hook, Proto, ServiceInfo, StickyEvent } from '../core/event.js';
import { decodeBatchFast, hooks, protos } from './batch-decoder.js';
import { encodeBatchFast } from './batch-encoder.js';

const protoPath = fileURLToPath(new URL('../../../proto/stickyscope.proto', import.meta.url));
const root = protobuf.parse(readFileSync(protoPath, 'utf8'), { keepCase: false }).root;

const EventBatchType = root.lookupType('stickyscope.v1.EventBatch');
const EventType = root.lookupType('stickyscope.v1.Event');
const FilterType = root.lookupType('stickyscope.v1.Filter');
const InfoRequestType = root.lookupType('stickyscope.v1.InfoRequest');
const AgentInfoType = root.lookupType('stickyscope.v1.AgentInfo');

const protoNum: Record<Proto, number> = { tcp: 1, udp: 2, sctp: 3 };
const hookNum: Record<Hook, number> = { prerouting: 1, input: 2, forward: 3, output: 4, postrouting: 5 };
const affinitySources = ['rules', 'k8s', 'inferred'] as const;
const affinitySourceNum = { rules: 0, k8s: 1, inferred: 2 } as const;

/** uint64 fields decode as Long objects (long.js is installed); event counts fit a double. */
type Uint64 = number | { toNumber(): number };
const num = (v: Uint64 | undefined | null): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

interface WireFlow {
  proto: number;
  client: string;
  service: string;
  backend: string;
  hook: number;
  ctId: string;
  serviceName?: string;
  backendPod?: string;
  snat?: string;
}
interface WireCounters {
  insertFailed: Uint64;
  drop: Uint64;
  earlyDrop: Uint64;
  entries: Uint64;
}
interface WireService {
  service: string;
  name?: string;
  affinity?: { mode?: number; timeoutSeconds?: number; source?: number };
  endpoints?: string[];
  pods?: Record<string, string>;
}
interface WireEvent {
  ts: number;
  node?: string;
  dnat?: WireFlow;
  snat?: WireFlow;
  insert?: WireFlow;
  lost?: { count: Uint64 };
  counters?: WireCounters;
  catalog?: { services?: WireService[] };
  evicted?: { list: string; endpoint: string; client: string; capacity: number; since?: number };
  nodeState?: { up?: boolean; reason?: string };
}
interface WireBatch {
  node?: string;
  events?: WireEvent[];
}

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
}

function flowToWire(e: FlowEvent): WireFlow {
  const f: WireFlow = {
    proto: protoNum[e.proto],
    client: e.client,
    service: e.service,
    backend: e.backend,
    hook: hookNum[e.hook],
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
      mode: s.affinity.mode === 'ClientIP' ? 1 : 0,
      timeoutSeconds: s.affinity.timeoutSeconds ?? 0,
      source: affinitySourceNum[s.affinity.source],
    },
    endpoints: s.endpoints,
    pods: s.pods,
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
      w.lost = { count: e.count };
      break;
    case 'counters':
      w.counters = { insertFailed: e.insertFailed, drop: e.drop, earlyDrop: e.earlyDrop, entries: e.entries };
      break;
    case 'catalog':
      w.catalog = { services: e.services.map(serviceToWire) };
      break;
    case 'evicted':
      w.evicted = { list: e.list, endpoint: e.endpoint, client: e.client, capacity: e.capacity };
      if (e.since !== undefined) w.evicted.since = e.since;
      break;
    case 'node':
      w.nodeState = { up: e.state === 'up', reason: e.reason ?? '' };
      break;
  }
  return w;
}

function flowFromWire(type: 'dnat' | 'snat' | 'insert', ts: number, node: string, f: WireFlow): StickyEvent {
  const proto = protos[f.proto - 1];
  const hook = hooks[f.hook - 1];
  if (proto === undefined || hook === undefined)
    throw new Error(`failed to decode a ${type} event: proto ${f.proto} / hook ${f.hook} are not known values`);
  const e = {
    type,
    ts,
    node,
    proto,
    client: f.client,
    service: f.service,
    backend: f.backend,
    hook,
    ctId: f.ctId,
  } as StickyEvent & { serviceName?: string; backendPod?: string; snat?: string };
  if (f.serviceName) e.serviceName = f.serviceName;
  if (f.backendPod) e.backendPod = f.backendPod;
  if (type === 'snat') e.snat = f.snat ?? '';
  return e;
}

function serviceFromWire(s: WireService): ServiceInfo {
  const a = s.affinity ?? {};
  const out: ServiceInfo = {
    service: s.service,
    name: s.name ? s.name : null,
    affinity: {
      mode: a.mode === 1 ? 'ClientIP' : 'None',
      timeoutSeconds: a.timeoutSeconds ? a.timeoutSeconds : null,
      source: affinitySources[a.source ?? 0] ?? 'rules',
    },
    endpoints: s.endpoints ? [...s.endpoints] : [],
  };
  if (s.pods && Object.keys(s.pods).length > 0) out.pods = { ...s.pods };
  return out;
}

function eventFromWire(w: WireEvent, batchNode: string): StickyEvent {
  const ts = w.ts;
  const node = w.node ? w.node : batchNode;
  if (w.dnat) return flowFromWire('dnat', ts, node, w.dnat);
  if (w.snat) return flowFromWire('snat', ts, node, w.snat);
  if (w.insert) return flowFromWire('insert', ts, node, w.insert);
  if (w.lost) return { type: 'lost', ts, node, count: num(w.lost.count) };
  if (w.counters) {
    const c = w.counters;
    return {
      type: 'counters',
      ts,
      node,
      insertFailed: num(c.insertFailed),
      drop: num(c.drop),
      earlyDrop: num(c.earlyDrop),
      entries: num(c.entries),
    };
  }
  if (w.catalog) return { type: 'catalog', ts, node, services: (w.catalog.services ?? []).map(serviceFromWire) };
  if (w.evicted) {
    const v = w.evicted;
    const e: StickyEvent = {
      type: 'evicted',
      ts,
      node,
      list: v.list,
      endpoint: v.endpoint,
      client: v.client,
      capacity: v.capacity,
    };
    if (v.since) e.since = v.since;
    return e;
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

function encodeOtherEvent(e: StickyEvent, batchNode: string): Uint8Array {
  return EventType.encode(eventToWire(e, batchNode)).finish();
}

/** The events of one EventBatch message. Throws on bytes that are not one. */
export function decodeBatch(bytes: Uint8Array): StickyEvent[] {
  try {
    return decodeBatchFast(bytes, decodeOtherEvent);
  } catch {
    // Whatever the fast path does not take, protobufjs decodes, or rejects with its own error.
    return decodeBatchWithProtobufjs(bytes);
  }
}

/** protobufjs's generated decoders take the nesting depth (for its recursion limit) as a 4th argument. */
type DecodeAtDepth = (r: protobuf.Reader, length: number, endGroup: undefined, depth: number) => unknown;

/** One Event of a batch at bytes[start, end), decoded as protobufjs decodes it inside the batch (depth 1). */
function decodeOtherEvent(bytes: Uint8Array, start: number, end: number): StickyEvent {
  const r = protobuf.Reader.create(bytes);
  r.pos = start;
  return eventFromWire(
    (EventType.decode as unknown as DecodeAtDepth).call(EventType, r, end - start, undefined, 1) as WireEvent,
    '',
  );
}

function decodeBatchWithProtobufjs(bytes: Uint8Array): StickyEvent[] {
  const wire = EventBatchType.decode(bytes) as unknown as WireBatch;
  const node = wire.node ?? '';
  return (wire.events ?? []).map((w) => eventFromWire(w, node));
}

export function encodeFilter(f: EventFilter): Uint8Array {
  return FilterType.encode({
    services: f.services ?? [],
    clients: f.clients ?? [],
    protos: (f.protos ?? []).map((p) => protoNum[p]),
  }).finish();
}

export function decodeFilter(bytes: Uint8Array): EventFilter {
  const w = FilterType.decode(bytes) as unknown as { services?: string[]; clients?: string[]; protos?: number[] };
  const ps = (w.protos ?? []).map((n) => protos[n - 1]);
  if (ps.some((p) => p === undefined))
    throw new Error(
      `failed to decode a filter: protocol numbers ${w.protos?.join(',')} include an unknown one (expected 1=tcp, 2=udp, 3=sctp)`,
    );
  return { services: [...(w.services ?? [])], clients: [...(w.clients ?? [])], protos: ps as Proto[] };
}

export function encodeInfoRequest(): Uint8Array {
  return InfoRequestType.encode({}).finish();
}

export function decodeInfoRequest(bytes: Uint8Array): Record<string, never> {
  InfoRequestType.decode(bytes);
  return {};
}

export function encodeInfo(info: AgentInfo): Uint8Array {
  return AgentInfoType.encode({ ...info, counters: info.counters ?? undefined }).finish();
}

export function decodeInfo(bytes: Uint8Array): AgentInfo {
  const w = AgentInfoType.decode(bytes) as unknown as Omit<AgentInfo, 'counters' | 'lostEvents' | 'subscriberLost'> & {
    counters?: WireCounters;
    lostEvents: Uint64;
    subscriberLost: Uint64;
  };
  const c = w.counters;
  return {
    nodeName: w.nodeName,
    kernelRelease: w.kernelRelease,
    attachPoints: [...(w.attachPoints ?? [])],
    counters: c
      ? { insertFailed: num(c.insertFailed), drop: num(c.drop), earlyDrop: num(c.earlyDrop), entries: num(c.entries) }
      : null,
    lostEvents: num(w.lostEvents),
    subscribers: w.subscribers,
    subscriberLost: num(w.subscriberLost),
    services: w.services,
  };
}
