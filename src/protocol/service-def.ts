// The Agent service of proto/stickyscope.proto as grpc-js definitions, serialised by
// src/protocol/wire.ts (no proto-loader: the server and the client share these exact
// functions, and batches are encoded once, straight from typed events).
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { StickyEvent } from '../core/event.js';
import {
  decodeBatch,
  decodeFilter,
  decodeInfo,
  decodeInfoRequest,
  encodeBatch,
  encodeFilter,
  encodeInfo,
  encodeInfoRequest,
  type AgentInfo,
  type EventFilter,
} from './wire.js';
import { decodeSummary, decodeSummaryRequest, encodeSummaryRequest } from './summary-wire.js';

/** What the agent writes to a Subscribe stream: events, or an EventBatch it has encoded already (shared by subscribers). */
export type BatchMessage = readonly StickyEvent[] | Buffer;

/** What the agent makes of a Subscribe request: the filter, or why its bytes are not one. */
export type SubscribeRequest = EventFilter & { undecodable?: string };

/** Never throws: grpc-js would answer a throwing deserializer with a bare INTERNAL, the agent says INVALID_ARGUMENT and why. */
function decodeSubscribeRequest(b: Buffer): SubscribeRequest {
  try {
    return decodeFilter(b);
  } catch (err) {
    return { undecodable: (err as Error).message };
  }
}

const toBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export const subscribeMethod = {
  path: '/stickyscope.v1.Agent/Subscribe',
  requestStream: false,
  responseStream: true,
  requestSerialize: (f: EventFilter) => toBuffer(encodeFilter(f)),
  requestDeserialize: decodeSubscribeRequest,
  responseSerialize: (m: BatchMessage) => (Buffer.isBuffer(m) ? m : toBuffer(encodeBatch(m as readonly StickyEvent[]))),
  responseDeserialize: (b: Buffer) => decodeBatch(b),
} as const;

export const infoMethod = {
  path: '/stickyscope.v1.Agent/Info',
  requestStream: false,
  responseStream: false,
  requestSerialize: () => toBuffer(encodeInfoRequest()),
  requestDeserialize: (b: Buffer) => decodeInfoRequest(b),
  responseSerialize: (i: AgentInfo) => toBuffer(encodeInfo(i)),
  responseDeserialize: (b: Buffer) => decodeInfo(b),
} as const;

/**
 * The agent writes each summary already encoded (src/protocol/summary-wire.ts), once for
 * all its subscribers; a request that is no SummaryRequest is taken as an empty one.
 */
export const subscribeSummariesMethod = {
  path: '/stickyscope.v1.Agent/SubscribeSummaries',
  requestStream: false,
  responseStream: true,
  requestSerialize: () => toBuffer(encodeSummaryRequest()),
  requestDeserialize: (b: Buffer) => {
    try {
      return decodeSummaryRequest(b);
    } catch {
      return {};
    }
  },
  responseSerialize: (encoded: Uint8Array) => toBuffer(encoded),
  responseDeserialize: (b: Buffer) => decodeSummary(b),
} as const;

export const agentService: ServiceDefinition = {
  Subscribe: subscribeMethod,
  Info: infoMethod,
  SubscribeSummaries: subscribeSummariesMethod,
};

/** The service as agents before SubscribeSummaries served it (tests of mixed versions). */
export const agentServiceV1: ServiceDefinition = {
  Subscribe: subscribeMethod,
  Info: infoMethod,
};
