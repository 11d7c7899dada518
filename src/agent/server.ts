// The agent's gRPC server: Subscribe, SubscribeSummaries and Info (served by subscriptions.ts), with grpc-js's own
// limits and the connection guard's; bound to an address, and shut down after what is queued for each stream.
import * as grpc from '@grpc/grpc-js';
import type { EventSource, StickyEvent } from '../core/event.js';
import { agentService, agentServiceV1, type BatchMessage, type SubscribeRequest } from '../protocol/service-def.js';
import type { AgentInfo } from '../protocol/wire.js';
import { guardConnections } from './connection-guard.js';
import { defaultLimits, LimitLog, type AgentLimits } from './limits.js';
import { Subscriptions } from './subscriptions.js';

/** The agent's per-period summaries (src/summary/producer.ts), each already encoded, for SubscribeSummaries. */
export interface SummarySource {
  on(event: 'summary', listener: (encoded: Uint8Array) => void): unknown;
  off(event: 'summary', listener: (encoded: Uint8Array) => void): unknown;
  /**
   * Everything so far, for a new subscriber's first message. `open`: the connections open now, which a reducer that
   * starts only now takes as open when tracing began.
   */
  snapshot(open: readonly StickyEvent[]): Uint8Array;
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
  /** Each batch of the agent's stream, to every subscriber (getServer attaches it to its source). */
  onEvents(events: StickyEvent[]): void;
  /** Ends every stream after what is queued for it, detaches from the source, shuts the server down. */
  close(): Promise<void>;
}

/** grpc-js's own options for these limits; the ping policy is enforced by connection-guard.ts. */
function serverOptions(limits: AgentLimits): grpc.ServerOptions {
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

/** The server fed by `source`, detached from it when closed. */
export function getServer(source: EventSource, opts: AgentServerOptions): AgentServer {
  const server = createAgentServer(opts);
  source.on('events', server.onEvents);
  return {
    ...server,
    close() {
      source.off('events', server.onEvents);
      return server.close();
    },
  };
}

/** The server fed by whoever calls its onEvents (the agent's stages). */
export function createAgentServer(opts: AgentServerOptions): AgentServer {
  const limits: AgentLimits = { ...defaultLimits, ...opts.limits };
  const limitLog = new LimitLog(opts.onLimit ?? ((line) => process.stderr.write(`stickyscope agent: ${line}\n`)));
  const subs = new Subscriptions({
    node: opts.node,
    attachPoints: opts.attachPoints,
    limits,
    limitLog,
    maxBuffered: opts.maxBuffered,
    maxBatch: opts.maxBatch,
  });
  const summaries = opts.summaries;
  const server = new grpc.Server(serverOptions(limits));
  server.addService(summaries ? agentService : agentServiceV1, {
    ...(summaries
      ? {
          SubscribeSummaries(call: grpc.ServerWritableStream<unknown, Uint8Array>) {
            subs.subscribeSummaries(call, summaries);
          },
        }
      : {}),
    Subscribe(call: grpc.ServerWritableStream<SubscribeRequest, BatchMessage>) {
      subs.subscribe(call);
    },
    Info(_call: grpc.ServerUnaryCall<unknown, AgentInfo>, callback: grpc.sendUnaryData<AgentInfo>) {
      callback(null, subs.info());
    },
  });
  const credentials = opts.credentials ?? grpc.ServerCredentials.createInsecure();
  return {
    server,
    info: () => subs.info(),
    onEvents: subs.onEvents,
    bind(address) {
      return new Promise((resolve, reject) => {
        server.bindAsync(address, credentials, (err, port) => {
          if (err) return reject(new Error(`failed to listen on ${address}: ${err.message}`));
          guardConnections(server, {
            ...limits,
            onPingFlood: (peer, why) =>
              subs.hit('pingFloods', `connection from ${peer} closed with GOAWAY too_many_pings: it ${why}`),
            onOversized: (peer, path, details) =>
              subs.hit(
                'oversizedMessages',
                `call ${path} from ${peer} ended: ${details} (limits: ${limits.maxReceiveBytes} bytes received, ${limits.maxSendBytes} sent)`,
              ),
          });
          resolve(`${address.slice(0, address.lastIndexOf(':'))}:${port}`);
        });
      });
    },
    close() {
      subs.endAll();
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
