// What one client may cost the agent, and the log of limits hit: each kind is counted (for Info) and said on stderr
// at most once a minute, so an abusive client cannot flood the node's logs either.
import type { AgentLimitCounts } from '../protocol/wire.js';

export interface AgentLimits {
  /** Subscribe streams at once; the next one is refused with RESOURCE_EXHAUSTED. */
  maxSubscribers: number;
  /** Largest request message; a Subscribe filter is a few hundred bytes. */
  maxReceiveBytes: number;
  /** Largest EventBatch; a subscriber's gRPC client refuses more than 4 MiB by default. */
  maxSendBytes: number;
  /** How long a subscriber's queue may overflow without it reading anything before its stream is cut. */
  stallTimeoutMs: number;
  /** Client pings closer together than this are strikes (gRPC's min_ping_interval_without_data). */
  minPingIntervalMs: number;
  /** Strikes tolerated before the connection is closed with GOAWAY ENHANCE_YOUR_CALM "too_many_pings". */
  maxPingStrikes: number;
  /** Whether a connection with no call open may ping at all. */
  permitPingsWithoutCalls: boolean;
  /** A connection with no call open for this long is closed. */
  maxConnectionIdleMs: number;
  /** Streams one HTTP/2 connection may have open at once. */
  maxStreamsPerConnection: number;
}

export const defaultLimits: AgentLimits = {
  maxSubscribers: 16,
  maxReceiveBytes: 64 * 1024,
  maxSendBytes: 4 * 1024 * 1024,
  stallTimeoutMs: 30_000,
  // Subscribers ping every 10 s (src/protocol/client.ts): half that leaves room for jitter.
  minPingIntervalMs: 5_000,
  maxPingStrikes: 2,
  // Subscribers ping between a stream's end and their reconnect.
  permitPingsWithoutCalls: true,
  maxConnectionIdleMs: 60_000,
  maxStreamsPerConnection: 32,
};

/** Limit hits by kind, as Info carries them. */
export type LimitCounts = AgentLimitCounts;
export type LimitKind = keyof LimitCounts;

/** Counts limit hits and says each kind on `log`, the first at once and then at most once per `everyMs`. */
export class LimitLog {
  readonly counts: LimitCounts = {
    rejectedSubscribers: 0,
    invalidFilters: 0,
    oversizedMessages: 0,
    stalledSubscribers: 0,
    pingFloods: 0,
  };
  private readonly lastSaid = new Map<LimitKind, { at: number; count: number }>();

  constructor(
    private readonly log: (line: string) => void,
    private readonly everyMs = 60_000,
    private readonly now = () => Date.now(),
  ) {}

  hit(kind: LimitKind, message: string): void {
    const n = ++this.counts[kind];
    const last = this.lastSaid.get(kind);
    const t = this.now();
    if (last && t - last.at < this.everyMs) return;
    const since = last ? n - last.count - 1 : 0;
    this.lastSaid.set(kind, { at: t, count: n });
    this.log(`${message}${since > 0 ? ` (and ${since} more of this kind since the last such message)` : ''}`);
  }
}
