// The agent's gRPC server: fans the event source out to any number of subscribers,
// each behind its own bounded queue, and answers Info from what went by.
import { release } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { CatalogEvent, CountersEvent, StickyEvent } from '../core/event.js';
import { compileFilter } from './filter.js';
import { agentService } from '../protocol/service-def.js';
import { Subscriber } from './subscriber.js';
import type { AgentInfo, EventFilter } from '../protocol/wire.js';

/** Anything that emits batches of events: the probe (src/probe/probe.ts), or the enriched stream built on it. */
export interface EventSource {
  on(event: 'events', listener: (events: StickyEvent[]) => void): unknown;
  off(event: 'events', listener: (events: StickyEvent[]) => void): unknown;
}

export interface AgentServerOptions {
  node: string;
  /** Where the probe is attached, for Info ("prerouting/-99", ...). */
  attachPoints?: string[];
  /** Events queued per subscriber at most; beyond that it is sent a `lost` count. Default 65536. */
  maxBuffered?: number;
  /** Events per message at most. Default 2048. */
  maxBatch?: number;
  /** How the port is served: TLS from src/protocol/tls.ts, or plaintext when absent. */
  credentials?: grpc.ServerCredentials;
}

export interface AgentServer {
  server: grpc.Server;
  /** Binds (port 0 picks a free one) and resolves to the bound "host:port". */
  bind(address: string): Promise<string>;
  info(): AgentInfo;
  /** Ends every stream after what is queued for it, detaches from the source, shuts the server down. */
  close(): Promise<void>;
}

/** Pings idle subscribers, so a vanished one is noticed and its queue freed within seconds. */
export const serverOptions: grpc.ServerOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
};

export function getServer(source: EventSource, opts: AgentServerOptions): AgentServer {
  const subscribers = new Set<Subscriber>();
  const subscriberOpts = { node: opts.node, maxBuffered: opts.maxBuffered ?? 65_536, maxBatch: opts.maxBatch ?? 2048 };
  let catalog: CatalogEvent | null = null;
  let counters: CountersEvent | null = null;
  let lostEvents = 0;
  let lostByGone = 0;

  const onEvents = (events: StickyEvent[]) => {
    for (const e of events) {
      if (e.type === 'catalog') catalog = e;
      else if (e.type === 'counters') counters = e;
      else if (e.type === 'lost') lostEvents += e.count;
    }
    for (const s of subscribers) s.offer(events);
  };
  source.on('events', onEvents);

  const credentials = opts.credentials ?? grpc.ServerCredentials.createInsecure();
  const server = new grpc.Server(serverOptions);
  server.addService(agentService, {
    Subscribe(call: grpc.ServerWritableStream<EventFilter, StickyEvent[]>) {
      const sub = new Subscriber(call, compileFilter(call.request), subscriberOpts);
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
      subscribers: subscribers.size,
      subscriberLost,
      services: (catalog as CatalogEvent | null)?.services.length ?? 0,
    };
  }

  return {
    server,
    info,
    bind(address) {
      return new Promise((resolve, reject) => {
        server.bindAsync(address, credentials, (err, port) => {
          if (err) reject(new Error(`failed to listen on ${address}: ${err.message}`));
          else resolve(`${address.slice(0, address.lastIndexOf(':'))}:${port}`);
        });
      });
    },
    close() {
      source.off('events', onEvents);
      for (const s of subscribers) s.end();
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
