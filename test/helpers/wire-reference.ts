// The ground truth for EventBatch decoding: protobufjs's reflection decoder, built here
// from the .proto text alone, and the mapping to typed events that docs/design.md and
// src/core/event.ts define, written out independently of src/protocol/wire.ts.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import type { StickyEvent } from '../../src/core/event.js';

const root = protobuf.parse(readFileSync(new URL('../../../proto/stickyscope.proto', import.meta.url), 'utf8'), {
  keepCase: true,
}).root;
export const Batch = root.lookupType('stickyscope.v1.EventBatch');
const Event = root.lookupType('stickyscope.v1.Event');

const protoNames = [undefined, 'tcp', 'udp', 'sctp'] as const;
const hookNames = [undefined, 'prerouting', 'input', 'forward', 'output', 'postrouting'] as const;
const sources = ['rules', 'k8s', 'inferred'] as const;
const n64 = (v: unknown): number =>
  v == null ? 0 : typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber();

// biome-ignore lint/suspicious/noExplicitAny: protobufjs's decoded messages, loosely typed: only this file reads them.
type Msg = Record<string, any>;

function flow(type: 'dnat' | 'snat' | 'insert', ts: number, node: string, f: Msg): StickyEvent {
  const proto = protoNames[f.proto as number];
  const hook = hookNames[f.hook as number];
  if (proto === undefined || hook === undefined)
    throw new Error(`reference: unknown proto ${f.proto} or hook ${f.hook}`);
  const e: Msg = {
    type,
    ts,
    node,
    proto,
    client: f.client,
    service: f.service,
    backend: f.backend,
    hook,
    ctId: f.ct_id,
  };
  if (f.service_name !== '') e.serviceName = f.service_name;
  if (f.backend_pod !== '') e.backendPod = f.backend_pod;
  if (type === 'snat') e.snat = f.snat;
  return e as StickyEvent;
}

function event(w: Msg, batchNode: string): StickyEvent {
  const ts: number = w.ts;
  const node: string = w.node !== '' ? w.node : batchNode;
  if (w.dnat) return flow('dnat', ts, node, w.dnat);
  if (w.snat) return flow('snat', ts, node, w.snat);
  if (w.insert) return flow('insert', ts, node, w.insert);
  if (w.lost) return { type: 'lost', ts, node, count: n64(w.lost.count) };
  if (w.counters) {
    const c = w.counters;
    return {
      type: 'counters',
      ts,
      node,
      insertFailed: n64(c.insert_failed),
      drop: n64(c.drop),
      earlyDrop: n64(c.early_drop),
      entries: n64(c.entries),
    };
  }
  if (w.catalog) {
    return {
      type: 'catalog',
      ts,
      node,
      services: (w.catalog.services as Msg[]).map((s) => {
        const a: Msg = s.affinity ?? {};
        const out: Msg = {
          service: s.service,
          name: s.name !== '' ? s.name : null,
          affinity: {
            mode: a.mode === 1 ? 'ClientIP' : 'None',
            timeoutSeconds: a.timeout_seconds ? a.timeout_seconds : null,
            source: sources[a.source ?? 0] ?? 'rules',
          },
          endpoints: [...s.endpoints],
        };
        if (Object.keys(s.pods).length > 0) out.pods = { ...s.pods };
        return out;
      }),
    } as StickyEvent;
  }
  if (w.evicted) {
    const v: Msg = w.evicted;
    const e: Msg = {
      type: 'evicted',
      ts,
      node,
      list: v.list,
      endpoint: v.endpoint,
      client: v.client,
      capacity: v.capacity,
    };
    if (v.since !== 0) e.since = v.since;
    return e as StickyEvent;
  }
  if (w.node_state) {
    const e: Msg = { type: 'node', ts, node, state: w.node_state.up ? 'up' : 'down' };
    if (w.node_state.reason !== '') e.reason = w.node_state.reason;
    return e as StickyEvent;
  }
  throw new Error('reference: an event of no known kind');
}

/** The events protobufjs reads from `bytes`; throws where it throws. */
export function referenceDecode(bytes: Uint8Array): StickyEvent[] {
  const b = Batch.decode(bytes) as Msg;
  return (b.events as Msg[]).map((w) => event(w, b.node));
}

/** The Event at bytes[start, end), as protobufjs reads it inside a batch; node '' when it names none. */
export function referenceDecodeEvent(bytes: Uint8Array, start: number, end: number): StickyEvent {
  const r = protobuf.Reader.create(bytes);
  r.pos = start;
  const decodeAtDepth = Event.decode as (
    this: protobuf.Type,
    r: protobuf.Reader,
    l: number,
    z: undefined,
    depth: number,
  ) => Msg;
  return event(decodeAtDepth.call(Event, r, end - start, undefined, 1), '');
}

/** Either the value `f` returns or the message of what it throws, so outcomes can be compared. */
export function outcome<T>(f: () => T): { value: T } | { error: string } {
  try {
    return { value: f() };
  } catch (err) {
    return { error: String((err as Error).message) };
  }
}
