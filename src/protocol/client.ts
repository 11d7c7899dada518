// Subscribes to agents over gRPC (one AgentConnection each, agent-connection.ts) and merges their events in time order
// (merge-streams.ts), over a fixed list or a set that changes, pausing the agents' streams while the consumer lags.
import type { StickyEvent } from '../core/event.js';
import type { NodeSummary } from '../core/summary.js';
import type { AgentInfo, EventFilter } from './wire.js';
import { StreamMerger } from './merge-streams.js';
import { RejectedEvents } from './validate.js';
import { ConnectGate } from './connect-gate.js';
import type { ClientTls } from './tls.js';
import { AgentConnection, type AgentStatus, type Backoff } from './agent-connection.js';

/** Agents that come and go (the ready pods of the agent DaemonSet): subscribeAgents follows the set. */
export interface AgentDirectory {
  addresses(): string[];
  /** Called with the new list whenever it changes; returns an unsubscribe. */
  onChange(cb: (addresses: string[]) => void): () => void;
  /** The node each agent runs on, by address, where known (its certificate must name it). */
  nodes?(): Record<string, string>;
}

/** How to reach the agents: mutual TLS or plaintext, and which node each is. */
export interface LinkOptions {
  /** Mutual TLS to the agents; plaintext when absent. */
  tls?: ClientTls;
  /** The node each agent runs on, by address, where known: its certificate must name that node. */
  nodes?: Record<string, string>;
}

export interface SubscribeOptions extends LinkOptions {
  filter?: EventFilter;
  signal?: AbortSignal;
  onStatus?: (status: AgentStatus) => void;
  /** Default 0.2 s doubling up to 5 s. */
  backoff?: Backoff;
  /** Reorder delay of the merge. Default 200 ms. */
  reorderDelayMs?: number;
  /** Events merged but not yet taken by the consumer above which the agents' streams are paused. Default 200k. */
  maxPending?: number;
  /** Counts the events dropped because they fail validate.ts's checks (implausible times, bad addresses...). */
  rejected?: RejectedEvents;
  /** Told once per agent stream, at its first rejected event, what was wrong with it. */
  onWarning?: (message: string) => void;
  /** While subscribed, asks each agent for its Info this often (on the same channel) and hands it here. */
  onInfo?: (address: string, info: AgentInfo) => void;
  infoEveryMs?: number;
  /**
   * Asks each agent for SubscribeSummaries; their summaries go here (their carried events
   * into the stream). An agent without the method (UNIMPLEMENTED) is subscribed raw instead.
   */
  onSummary?: (address: string, summary: NodeSummary) => void;
  /** Told once per agent that answered SubscribeSummaries with UNIMPLEMENTED (it is followed raw). */
  onRawFallback?: (address: string, node: string) => void;
}

/** Connections set up at once by one subscription. */
const CONNECTING_AT_ONCE = 32;

/** The connections of one subscription, one per agent followed, all paused while the consumer lags. */
class Connections {
  private readonly conns = new Map<string, AgentConnection>();
  private readonly up = new Set<string>();
  private readonly stopping: Promise<void>[] = [];
  private readonly gate = new ConnectGate(CONNECTING_AT_ONCE);
  private paused = false;

  constructor(
    private readonly opts: SubscribeOptions,
    private readonly directory: AgentDirectory | null,
    private readonly rejected: RejectedEvents,
    private readonly merger: StreamMerger,
    /** Called after each batch an agent sent went into the merger. */
    private readonly onPushed: () => void,
  ) {}

  /** Pauses every stream (`over`) or resumes them. */
  pause(over: boolean): void {
    if (over === this.paused) return;
    this.paused = over;
    for (const c of this.conns.values()) {
      if (over) c.pause();
      else c.resume();
    }
  }

  /** Subscribes the agents new to `addresses` and drops those no longer in it. */
  follow(addresses: readonly string[]): void {
    const next = new Set(addresses);
    for (const a of [...this.conns.keys()]) if (!next.has(a)) this.remove(a);
    for (const a of next) if (!this.conns.has(a)) this.add(a);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.conns.values()].map((c) => c.stop()));
    await Promise.all(this.stopping);
  }

  private add(address: string): void {
    const { opts } = this;
    const node = this.directory?.nodes?.()[address] ?? opts.nodes?.[address];
    const infoEveryMs = opts.onInfo ? opts.infoEveryMs : undefined;
    const summaries = opts.onSummary !== undefined;
    const c = new AgentConnection(address, opts.filter, opts.backoff, this.rejected, {
      tls: opts.tls,
      node,
      infoEveryMs,
      summaries,
      gate: this.gate,
    });
    if (opts.onSummary) c.on('summary', (summary: NodeSummary) => opts.onSummary!(address, summary));
    if (opts.onRawFallback) c.on('rawFallback', (n: string) => opts.onRawFallback!(address, n));
    this.conns.set(address, c);
    if (this.paused) c.pause();
    c.on('events', (events: StickyEvent[]) => {
      this.merger.push(c.address, events, Date.now());
      this.onPushed();
    });
    c.on('status', (s: AgentStatus) => {
      if (s.state === 'up') this.up.add(address);
      else this.up.delete(address);
      opts.onStatus?.(s);
    });
    if (opts.onWarning) c.on('warning', opts.onWarning);
    if (opts.onInfo) c.on('info', (info: AgentInfo) => opts.onInfo!(address, info));
  }

  private remove(address: string): void {
    const c = this.conns.get(address)!;
    this.conns.delete(address);
    c.removeAllListeners('status');
    c.removeAllListeners('info');
    this.stopping.push(
      c.stop().then(() => {
        const reason = `agent ${c.node} (${address}) left the set of agents`;
        // One still up goes down here; one already down has its gap open.
        if (this.up.delete(address))
          this.merger.push(
            address,
            [{ type: 'node', ts: Date.now() * 1000, node: c.node, state: 'down', reason }],
            Date.now(),
          );
        this.opts.onStatus?.({ address, node: c.node, state: 'removed', reason });
      }),
    );
  }
}

/**
 * Subscribes to every agent and yields their events merged in time order, in batches,
 * until `signal` aborts (then the rest is flushed and the connections closed). Given a
 * directory, agents that join are subscribed at once, and those that leave are dropped
 * with a `node` down event, so their node's window shows the gap.
 */
export async function* subscribeAgents(
  agents: string[] | AgentDirectory,
  opts: SubscribeOptions = {},
): AsyncGenerator<StickyEvent[]> {
  const merger = new StreamMerger({ delayMs: opts.reorderDelayMs ?? 200 });
  const maxPending = opts.maxPending ?? 200_000;
  const ready: StickyEvent[][] = [];
  let pending = 0;
  let wake: (() => void) | null = null;
  const directory = Array.isArray(agents) ? null : (agents as AgentDirectory);
  const flowControl = () => conns.pause(pending + merger.size > maxPending);
  const conns = new Connections(opts, directory, opts.rejected ?? new RejectedEvents(), merger, flowControl);
  conns.follow(directory ? directory.addresses() : (agents as string[]));
  const unfollow = directory?.onChange((addresses) => conns.follow(addresses));
  const release = (now: number) => {
    const out = merger.drain(now);
    if (out.length === 0) return;
    ready.push(out);
    pending += out.length;
    wake?.();
  };
  const tick = setInterval(() => release(Date.now()), Math.max(10, Math.floor(merger.delayMs / 4)));
  const onAbort = () => wake?.();
  opts.signal?.addEventListener('abort', onAbort);
  const stopAll = async () => {
    unfollow?.();
    await conns.stop();
  };
  try {
    for (;;) {
      const batch = ready.shift();
      if (batch) {
        pending -= batch.length;
        flowControl();
        yield batch;
        continue;
      }
      if (opts.signal?.aborted) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
    await stopAll();
    const rest = merger.drain(Infinity);
    if (rest.length > 0) yield rest;
  } finally {
    clearInterval(tick);
    opts.signal?.removeEventListener('abort', onAbort);
    await stopAll();
  }
}
