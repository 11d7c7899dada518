// One agent over gRPC, kept subscribed: reconnects on its own with capped exponential backoff, says when its node goes
// down or comes back (to 'status' and as `node` events in the stream itself, so recordings keep the gaps), checks that
// the agent is the node its certificate names, and follows summaries or raw events.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { NodeEvent, StickyEvent } from '../core/event.js';
import { infoMethod, subscribeMethod, subscribeSummariesMethod } from './service-def.js';
import type { NodeSummary } from '../core/summary.js';
import type { AgentInfo, EventFilter } from './wire.js';
import { admitEvents, RejectedEvents, type Rejection } from './validate.js';
import { summaryProblem } from './summary-wire.js';
import type { ConnectGate } from './connect-gate.js';
import { diagnoseTls } from './tls-diagnose.js';
import { clientLink, type ClientTls, type PeerIdentity } from './tls.js';

export interface AgentStatus {
  address: string;
  /** The agent's node name once Info has answered, else its address. */
  node: string;
  /** `removed`: the agent left the set (AgentDirectory) and is no longer followed. */
  state: 'up' | 'down' | 'removed';
  reason?: string;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** How to reach one agent: TLS or not, and the node it is expected to be. */
export interface AgentLink {
  tls?: ClientTls;
  node?: string;
  /** With it, Info is asked this often while subscribed (emitted as 'info'). */
  infoEveryMs?: number;
  /** Subscribe to summaries ('summary' events), falling back to raw events when the agent lacks them ('rawFallback'). */
  summaries?: boolean;
  /** Shared by the connections of one subscription: how many may be connecting at once. */
  gate?: ConnectGate;
}

/** How long one connection may hold its slot of the subscription's ConnectGate. */
const CONNECT_SLOT_MS = 5_000;

const channelOptions: grpc.ChannelOptions = {
  // HTTP/2's default 64 KiB window stalls a stream of ~200 KiB batches on round trips.
  'grpc-node.flow_control_window': 8 * 1024 * 1024,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
};
const infoDeadlineMs = 3_000;

/** What went wrong with a call, in one line. */
function reasonOf(err: unknown): string {
  const e = err as Partial<grpc.ServiceError>;
  const text = e.details || e.message || String(err);
  // grpc-js wraps the cause of a failed connection in words of its own; keep the cause.
  return text.replace(/^No connection established\. Last error: (Error: )?/, '').replace(/\.? Resolution note: ?$/, '');
}

/**
 * One agent, kept subscribed until stop(). Emits 'events' (StickyEvent[], including the
 * `node` up/down events it makes itself), 'status' (AgentStatus) and 'warning' (a line
 * about the first event of a stream that failed validation; all are counted in `rejected`).
 */
export class AgentConnection extends EventEmitter {
  node: string;
  private stopped = false;
  private stream: grpc.ClientReadableStream<StickyEvent[] | NodeSummary> | null = null;
  /** The agent answered SubscribeSummaries with UNIMPLEMENTED: raw from then on. */
  private raw = false;
  private infoCall: grpc.ClientUnaryCall | null = null;
  private paused = false;
  private wake: (() => void) | null = null;
  private readonly done: Promise<void>;

  constructor(
    readonly address: string,
    private readonly filter: EventFilter = {},
    private readonly backoff: Backoff = { initialMs: 200, maxMs: 5_000 },
    readonly rejected: RejectedEvents = new RejectedEvents(),
    private readonly link: AgentLink = {},
  ) {
    super();
    this.node = address;
    this.done = this.run();
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.cancel();
    this.infoCall?.cancel();
    this.wake?.();
    await this.done;
  }

  private announce(state: 'up' | 'down', reason?: string): void {
    const e: NodeEvent = { type: 'node', ts: Date.now() * 1000, node: this.node, state };
    if (reason !== undefined) e.reason = reason;
    this.emit('events', [e]);
    const status: AgentStatus = { address: this.address, node: this.node, state };
    if (reason !== undefined) status.reason = reason;
    this.emit('status', status);
  }

  private async run(): Promise<void> {
    let delay = this.backoff.initialMs;
    let up: boolean | null = null;
    let poll: NodeJS.Timeout | undefined;
    while (!this.stopped) {
      let client: grpc.Client | null = null;
      let reason: string;
      const release = (await this.link.gate?.acquire()) ?? (() => {});
      // A slot is held while connecting only: a stuck agent cannot keep the others waiting.
      const slotTimer = setTimeout(release, CONNECT_SLOT_MS);
      try {
        if (this.stopped) break;
        const { credentials, options, peer } = this.connectWith();
        client = new grpc.Client(this.address, credentials, { ...channelOptions, ...options });
        const info = await this.info(client);
        checkNode(info, peer);
        this.node = info.nodeName || this.address;
        this.emit('info', info);
        const { established, ended } = this.subscribe(client);
        const subscribed = await established;
        release();
        if (subscribed) {
          up = true;
          delay = this.backoff.initialMs;
          this.announce('up');
          if (this.link.infoEveryMs) poll = this.pollInfo(client, this.link.infoEveryMs);
        }
        const end = await ended;
        if (end.unimplemented && !this.raw) {
          // An agent older than SubscribeSummaries: follow its raw stream at once, without a gap.
          this.raw = true;
          this.emit('rawFallback', this.node);
          continue;
        }
        reason = end.reason;
      } catch (err) {
        const code = (err as Partial<grpc.ServiceError>).code;
        const why = code === grpc.status.UNAVAILABLE ? await diagnoseTls(this.address, this.link.tls) : null;
        reason = `agent ${this.address} unreachable: ${why ?? reasonOf(err)}`;
      } finally {
        clearTimeout(slotTimer);
        release();
        if (poll) clearInterval(poll);
        poll = undefined;
        this.stream = null;
        client?.close();
      }
      if (this.stopped) break;
      if (up !== false) this.announce('down', reason);
      up = false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
      delay = Math.min(delay * 2, this.backoff.maxMs);
    }
  }

  /** Credentials for one attempt: the certificate files are read anew each time (rotation). */
  private connectWith(): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions; peer: PeerIdentity } {
    if (!this.link.tls) return { credentials: grpc.credentials.createInsecure(), options: {}, peer: {} };
    return clientLink(this.link.tls, this.link.node);
  }

  /** A failed poll is left to the stream to notice: the next one tries again. */
  private pollInfo(client: grpc.Client, everyMs: number): NodeJS.Timeout {
    return setInterval(() => {
      if (this.infoCall || this.stopped) return;
      this.info(client).then(
        (info) => this.emit('info', info),
        () => {},
      );
    }, everyMs);
  }

  private info(client: grpc.Client): Promise<AgentInfo> {
    return new Promise((resolve, reject) => {
      this.infoCall = client.makeUnaryRequest(
        infoMethod.path,
        infoMethod.requestSerialize,
        infoMethod.responseDeserialize,
        {},
        { deadline: Date.now() + infoDeadlineMs },
        (err, value) => {
          this.infoCall = null;
          if (err || !value) reject(err ?? new Error('empty Info answer'));
          else resolve(value);
        },
      );
    });
  }

  /**
   * What is wrong with a summary, if anything. A summary speaks for the agent's own node only: another name would be
   * a node that never connected, and a stream of invented names would grow serve's store.
   */
  private summaryRejection(received: NodeSummary): Rejection | null {
    const otherNode: Rejection = {
      reason: 'malformed',
      field: 'summary.node',
      detail: `summary.node is '${received.node.slice(0, 80)}'; expected the agent's own node '${this.node}'`,
    };
    return summaryProblem(received) ?? (received.node === this.node ? null : otherNode);
  }

  /**
   * Starts the stream. `established` says whether the agent took the subscription (it
   * sends headers once it has); `ended` resolves, with the reason, when the stream ends.
   */
  private subscribe(client: grpc.Client): {
    established: Promise<boolean>;
    ended: Promise<{ reason: string; unimplemented: boolean }>;
  } {
    const summaries = this.link.summaries === true && !this.raw;
    const stream: grpc.ClientReadableStream<StickyEvent[] | NodeSummary> = summaries
      ? client.makeServerStreamRequest(
          subscribeSummariesMethod.path,
          subscribeSummariesMethod.requestSerialize,
          subscribeSummariesMethod.responseDeserialize,
          {},
        )
      : client.makeServerStreamRequest(
          subscribeMethod.path,
          subscribeMethod.requestSerialize,
          subscribeMethod.responseDeserialize,
          this.filter,
        );
    this.stream = stream;
    if (this.paused) stream.pause();
    let warned = false;
    const admit = (received: StickyEvent[]) =>
      // Times and addresses are checked here, where they enter: a time from the far future
      // would otherwise move every consumer's window and evict its state.
      admitEvents(
        received,
        this.rejected,
        (r, i) => {
          if (warned) return;
          warned = true;
          this.emit(
            'warning',
            `agent ${this.node} (${this.address}) sent an event that is rejected (event ${i} of a batch): ${r.detail}; dropped (further rejected events are counted)`,
          );
        },
        undefined,
        this.node,
      );
    stream.on('data', (received: StickyEvent[] | NodeSummary) => {
      if (Array.isArray(received)) {
        const events = admit(received);
        if (events.length > 0) this.emit('events', events);
        return;
      }
      const problem = this.summaryRejection(received);
      if (problem) {
        this.rejected.add(problem.reason);
        if (!warned) {
          warned = true;
          this.emit(
            'warning',
            `agent ${this.node} (${this.address}) sent a summary that is rejected: ${problem.detail}; dropped (further rejections are counted)`,
          );
        }
        return;
      }
      const events = admit(received.events);
      if (events.length > 0) this.emit('events', events);
      this.emit('summary', { ...received, events });
    });
    const ended = new Promise<{ reason: string; unimplemented: boolean }>((resolve) => {
      stream.on('error', (err: Partial<grpc.ServiceError>) =>
        resolve({
          reason: `stream from ${this.node} (${this.address}) failed: ${reasonOf(err)}`,
          unimplemented: summaries && err.code === grpc.status.UNIMPLEMENTED,
        }),
      );
      stream.on('end', () =>
        resolve({ reason: `agent ${this.node} (${this.address}) ended the stream`, unimplemented: false }),
      );
    });
    const established = Promise.race([
      new Promise<boolean>((resolve) => stream.once('metadata', () => resolve(true))),
      ended.then(() => false),
    ]);
    return { established, ended };
  }
}

/** An agent whose certificate names one node but which says it is another is not believed. */
function checkNode(info: AgentInfo, peer: PeerIdentity): void {
  if (peer.node !== undefined && info.nodeName !== peer.node)
    throw new Error(`its certificate is for node ${peer.node} but it says it is node ${info.nodeName}`);
}
