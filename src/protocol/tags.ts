// The field numbers and enum numbers of proto/stickyscope.proto that the hand-written codec
// (batch-encoder.ts, batch-decoder.ts) and wire.ts write and read, in one place;
// test/unit/protocol-tags.test.ts checks them against the .proto.
import type { Hook, Proto } from '../core/event.js';

export const BatchField = { node: 1, events: 2, rulesRead: 3 } as const;
export const RulesReadField = { ts: 1, node: 2, readAt: 3 } as const;
export const EventField = {
  ts: 1,
  node: 2,
  dnat: 10,
  snat: 11,
  insert: 12,
  lost: 13,
  counters: 14,
  catalog: 15,
  evicted: 16,
  nodeState: 17,
  affinitySets: 18,
  open: 19,
  close: 20,
  traffic: 21,
  sweep: 22,
} as const;
export const FlowField = {
  proto: 1,
  client: 2,
  service: 3,
  backend: 4,
  hook: 5,
  ctId: 6,
  serviceName: 7,
  backendPod: 8,
  snat: 9,
} as const;

export const protoNumber: Readonly<Record<Proto, number>> = { tcp: 1, udp: 2, sctp: 3 };
export const hookNumber: Readonly<Record<Hook, number>> = {
  prerouting: 1,
  input: 2,
  forward: 3,
  output: 4,
  postrouting: 5,
};
export const affinityModeNumber = { None: 0, ClientIP: 1 } as const;
export const affinitySourceNumber = { rules: 0, k8s: 1, inferred: 2 } as const;

/** Wire types: the low 3 bits of a tag. */
export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;

/** A field's tag: its number and wire type, as the first byte(s) of the field on the wire. */
export const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** The names of an enum's numbers, indexed by number (undefined, not a hole, where none: the decoder's lookups stay fast). */
function byNumber<T extends string>(numbers: Readonly<Record<T, number>>): readonly (T | undefined)[] {
  const entries = Object.entries(numbers) as [T, number][];
  const names = new Array<T | undefined>(Math.max(...entries.map(([, n]) => n)) + 1).fill(undefined);
  for (const [name, n] of entries) names[n] = name;
  return names;
}

export const protoByNumber = byNumber(protoNumber);
export const hookByNumber = byNumber(hookNumber);
export const affinitySourceByNumber = byNumber(affinitySourceNumber);
