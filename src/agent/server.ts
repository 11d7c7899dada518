// The agent's gRPC server: fans the event source out to its subscribers (encoded once for all without a filter), each
// behind its own bounded queue, and answers Info from what went by. What one client may cost is bounded (limits.ts):
// each limit hit is refused with a gRPC status, counted in Info and said on stderr.
import { LiveBook } from './live-book.js';
import { release } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { CatalogEvent, CountersEvent, StickyEvent } from '../core/event.js';
import { compileFilter, takesEverything, validateFilter, type EventPredicate } from '../protocol/event-filter.js';
import { agentService, agentServiceV1, type BatchMessage, type SubscribeRequest } from '../protocol/service-def.js';
import { encodeBatchWithIndex } from '../protocol/wire.js';
import type { IndexedBatch } from '../protocol/batch-encoder.js';
import { Subscriber } from './subscriber.js';
import { guardConnections, resetCall } from './connection-guard.js';
import { defaultLimits, LimitLog, type AgentLimits, type LimitKind } from './limits.js';
import type { AgentInfo } from '../protocol/wire.js';

/** Anything that emits batches of events: the probe (src/probe/probe.ts), or the enriched stream built on it. */
export interface EventSource {
  on(event: 'events', listener: (events: StickyEvent[]) => void): unknown;
  off(event: 'events', listener: (events: StickyEvent[]) => void): unknown;
}

/** The agent's per-period summaries (summary-feed.ts), each already encoded, for SubscribeSummaries. */
export interface SummarySource {
  on(event: 'summary', listener: (encoded: Uint8Array) => void): unknown;
  off(event: 'summary', listener: (encoded: Uint8Array) => void): unknown;
  /** Everything so far, for a new subscriber's first message. */
  snapshot(): Uint8Array;
}

export interface AgentServerOptions {
  node: string;
  /** Where the probe is attached, for Info ("prerouting/-99", ...). */
  attachPoints?: string[];
  /** What one client may cost the agent; defaultLimits for what is left out. */
  limits?: Partial<AgentLimits>;
  /** Where limit hits are said (rate-limited); stderr when absent. */
  onLimit?: (line: string) => void;
  /** Events queued per subscriber at most; beyond that it is sent a `lost` count. Default 65536. */
  maxBuffered?: number;
  /** Events per message at most. Default 2048. */
  maxBatch?: number;
  /** How the port is served: TLS from src/protocol/tls.ts, or plaintext when absent. */
  credentials?: grpc.ServerCredentials;
  /** Serves SubscribeSummaries from it; without it the method is not served (UNIMPLEMENTED, as older agents). */
  summaries?: SummarySource;
}

export interface AgentServer {
  server: grpc.Server;
  /** Binds (port 0 picks a free one) and resolves to the bound "host:port". */
  bind(address: string): Promise<string>;
  info(): AgentInfo;
  /** Ends every stream after what is queued for it, detaches from the source, shuts the server down. */
  close(): Promise<void>;
}

/** grpc-js's own options for these limits; the ping policy is enforced by connection-guard.ts. */
export function serverOptions(limits: AgentLimits): grpc.ServerOptions {
  return {
    // Pings idle subscribers, so a vanished one is noticed and its queue freed within seconds.
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.max_receive_message_length': limits.maxReceiveBytes,
    'grpc.max_send_message_length': limits.maxSendBytes,
    'grpc.max_connection_idle_ms': limits.maxConnectionIdleMs,
    'grpc.max_concurrent_streams': limits.maxStreamsPerConnection,
  };
}

/** Status codes of grpc.status, as numbers the limits answer with. */
const { RESOURCE_EXHAUSTED, INVALID_ARGUMENT } = grpc.status;

export function getServer(source: EventSource, opts: AgentServerOptions): AgentServer {
  const limits: AgentLimits = { ...defaultLimits, ...opts.limits };
  const limitLog = new LimitLog(opts.onLimit ?? ((line) => process.stderr.write(`stickyscope agent: ${line}\n`)));
  const hit = (kind: LimitKind, message: string) => limitLog.hit(kind, message);
  const subscribers = new Set<Subscriber>();
  const subscriberOpts = {
    node: opts.node,
    maxBuffered: opts.maxBuffered ?? 65_536,
    maxBatch: opts.maxBatch ?? 2048,
    stallTimeoutMs: limits.stallTimeoutMs,
    onStalled: (sub: Subscriber, overflowingMs: number) => {
      const peer = sub.call.getPeer();
      const details = `subscriber ${peer} read nothing for ${Math.round(overflowingMs / 1000)} s while its queue of ${subscriberOpts.maxBuffered} events overflowed; its stream is cut (limit: agent --stall-timeout ${limits.stallTimeoutMs / 1000}s)`;
      hit('stalledSubscribers', details);
      if (subscribers.delete(sub)) lostByGone += sub.lost;
      // The status waits behind what the client has not read; the reset reaches it at once.
      sub.call.emit('error', { code: RESOURCE_EXHAUSTED, details });
      resetCall(sub.call);
    },
  };
  let catalog: CatalogEvent | null = null;
  const live = new LiveBook();
  let counters: CountersEvent | null = null;
  let lostEvents = 0;
  let lostByGone = 0;

  const onEvents = (events: StickyEvent[]) => {
    for (const e of events) {
      if (e.type === 'catalog') catalog = e;
      else if (e.type === 'counters') counters = e;
      else if (e.type === 'lost') lostEvents += e.count;
    }
    live.apply(events);
    // Encoded once for every subscriber without a filter (they send slices of the same bytes); filtered ones encode
    // what passes theirs.
    let shared: IndexedBatch | undefined;
    for (const s of subscribers) {
      if (s.takesAll && shared === undefined) shared = encodeBatchWithIndex(events);
      s.offer(events, shared);
    }
  };
  source.on('events', onEvents);

  const credentials = opts.credentials ?? grpc.ServerCredentials.createInsecure();
  const refuse = (
    call: grpc.ServerWritableStream<SubscribeRequest, BatchMessage>,
    code: grpc.status,
    details: string,
  ) => call.emit('error', { code, details });

  /** The subscription's predicate, or null when it was refused (said to the client, counted, logged). */
  function admit(call: grpc.ServerWritableStream<SubscribeRequest, BatchMessage>): EventPredicate | null {
    const peer = call.getPeer();
    if (subscribers.size >= limits.maxSubscribers) {
      const details = `the agent serves at most ${limits.maxSubscribers} subscribers at once and has ${subscribers.size}; subscription from ${peer} refused (limit: agent --max-subscribers)`;
      hit('rejectedSubscribers', details);
      refuse(call, RESOURCE_EXHAUSTED, details);
      return null;
    }
    try {
      const { undecodable, ...filter } = call.request;
      if (undecodable !== undefined) throw new Error(undecodable);
      return compileFilter(validateFilter(filter));
    } catch (err) {
      const details = `invalid subscription filter from ${peer}: ${(err as Error).message}`;
      hit('invalidFilters', details);
      refuse(call, INVALID_ARGUMENT, details);
      return null;
    }
  }

  const summarySubs = new Set<grpc.ServerWritableStream<unknown, Uint8Array>>();
  /** Bytes a summary subscriber may leave unread before it is cut (it reconnects and gets a snapshot). */
  const maxSummaryBacklog = 64 * 1024 * 1024;
  const summaryHandlers = {
    SubscribeSummaries(call: grpc.ServerWritableStream<unknown, Uint8Array>) {
      const source = opts.summaries!;
      const peer = call.getPeer();
      if (subscribers.size + summarySubs.size >= limits.maxSubscribers) {
        const details = `the agent serves at most ${limits.maxSubscribers} subscribers at once and has ${subscribers.size + summarySubs.size}; summary subscription from ${peer} refused (limit: agent --max-subscribers)`;
        hit('rejectedSubscribers', details);
        call.emit('error', { code: RESOURCE_EXHAUSTED, details });
        return;
      }
      summarySubs.add(call);
      const send = (encoded: Uint8Array) => {
        if (call.writableLength > maxSummaryBacklog) {
          const details = `summary subscriber ${peer} left ${call.writableLength} bytes unread; its stream is cut`;
          hit('stalledSubscribers', details);
          gone();
          call.emit('error', { code: RESOURCE_EXHAUSTED, details });
          resetCall(call);
          return;
        }
        call.write(encoded);
      };
      const gone = () => {
        summarySubs.delete(call);
        source.off('summary', send);
      };
      call.on('cancelled', gone);
      call.on('error', gone);
      call.on('close', gone);
      call.sendMetadata(new grpc.Metadata());
      call.write(source.snapshot());
      source.on('summary', send);
    },
  };

  const server = new grpc.Server(serverOptions(limits));
  server.addService(opts.summaries ? agentService : agentServiceV1, {
    ...(opts.summaries ? summaryHandlers : {}),
    Subscribe(call: grpc.ServerWritableStream<SubscribeRequest, BatchMessage>) {
      const accepts = admit(call);
      if (!accepts) return;
      const sub = new Subscriber(call, takesEverything(accepts) ? null : accepts, subscriberOpts);
      subscribers.add(sub);
      const gone = () => {
        if (!subscribers.delete(sub)) return;
        lostByGone += sub.lost;
        sub.discard();
      };
      call.on('cancelled', gone);
      call.on('error', gone);
      call.on('close', gone);
      // Headers now tell the client its subscription is in place (it reports the node up then).
      call.sendMetadata(new grpc.Metadata());
      // A subscriber that arrives after the rules were read still learns the services.
      if (catalog) sub.offer([catalog]);
      // And the connections open now: for it, those are what was open when it began to listen.
      const snapshot = live.snapshot(Date.now() * 1000);
      if (snapshot.length > 0) sub.offer(snapshot);
    },
    Info(_call: grpc.ServerUnaryCall<unknown, AgentInfo>, callback: grpc.sendUnaryData<AgentInfo>) {
      callback(null, info());
    },
  });

  function info(): AgentInfo {
    let subscriberLost = lostByGone;
    for (const s of subscribers) subscriberLost += s.lost;
    const c = counters as CountersEvent | null;
    return {
      nodeName: opts.node,
      kernelRelease: release(),
      attachPoints: opts.attachPoints ?? [],
      counters: c ? { insertFailed: c.insertFailed, drop: c.drop, earlyDrop: c.earlyDrop, entries: c.entries } : null,
      lostEvents,
      subscribers: subscribers.size + summarySubs.size,
      subscriberLost,
      services: (catalog as CatalogEvent | null)?.services.length ?? 0,
      limits: { ...limitLog.counts },
      maxSubscribers: limits.maxSubscribers,
      proxyMode: (catalog as CatalogEvent | null)?.proxyMode ?? '',
    };
  }

  return {
    server,
    info,
    bind(address) {
      return new Promise((resolve, reject) => {
        server.bindAsync(address, credentials, (err, port) => {
          if (err) return reject(new Error(`failed to listen on ${address}: ${err.message}`));
          guardConnections(server, {
            ...limits,
            onPingFlood: (peer, why) =>
              hit('pingFloods', `connection from ${peer} closed with GOAWAY too_many_pings: it ${why}`),
            onOversized: (peer, path, details) =>
              hit(
                'oversizedMessages',
                `call ${path} from ${peer} ended: ${details} (limits: ${limits.maxReceiveBytes} bytes received, ${limits.maxSendBytes} sent)`,
              ),
          });
          resolve(`${address.slice(0, address.lastIndexOf(':'))}:${port}`);
        });
      });
    },
    close() {
      source.off('events', onEvents);
      for (const s of subscribers) s.end();
      for (const c of summarySubs) c.end();
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
