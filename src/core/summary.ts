// The summary of one node's selections that an agent sends per period (SubscribeSummaries
// in proto/stickyscope.proto): what the agent's reducer counted, summable over nodes.
import type { StickyEvent } from './event.js';

/** One backend of a Service on one node. */
export interface BackendCounts {
  backend: string;
  selections: number;
  /**
   * Only from a node whose helper reads its conntrack table (NodeSummary.live): the backend's connections open on the
   * node now (a gauge: summed over nodes, not over time), and the bytes both ways they carried since the node's
   * reducer followed them (cumulative).
   */
  live?: number;
  bytes?: number;
}

/** Summable counts of one Service on one node: sums over nodes are the cluster's counts. */
export interface ServiceCounts {
  /** The Service's key, "ip:port/proto". */
  service: string;
  /** Selections by backend; with totals(), every endpoint the node's rules list is there, zeros included. */
  backends: BackendCounts[];
  /** Consecutive selections of one client (all of them) and those that kept the backend: stickiness is same/pairs. */
  pairs: number;
  sameBackend: number;
  held: number;
  /** Violations, whatever their cause (settled or not). */
  violations: number;
  forcedRepick: number;
  expired: number;
  /** Expired pairs that moved to another backend. */
  expiredMoved: number;
  /** Violations by settled cause; those still open are in none of them yet. */
  listFull: number;
  setFull: number;
  crossFrontend: number;
  unknown: number;
  udpReplacements: number;
  udpBackendChanged: number;
  udpReflectiveChanged: number;
}

/** A violation as the node's reducer judged it, sent whole in summaries (cause as known then). */
export interface ViolationRecord {
  ts: number;
  service: string;
  client: string;
  from: string;
  to: string;
  gapSeconds: number;
  cause: 'listFull' | 'setFull' | 'crossFrontend' | 'unknown';
}

/** What one node's agent sends per period: cumulative counts since the agent started, and what must go whole. */
export interface NodeSummary {
  node: string;
  /** Span covered, in microseconds (the previous summary's end, and now). */
  start: number;
  end: number;
  services: (ServiceCounts & { clientsHll: Uint8Array })[];
  violations: ViolationRecord[];
  /** Catalog, lost, affinity-set and node events, as they came. */
  events: StickyEvent[];
  /**
   * Present when the node's helper reads its conntrack table (live connections; older agents never say): whether its
   * last sweep carried byte counters (nf_conntrack_acct; null before its first sweep).
   */
  live?: { bytes: boolean | null };
  /** When the node's cumulative counts began (microseconds); older agents never say. */
  epoch?: number;
}

const COUNT_FIELDS = [
  'pairs',
  'sameBackend',
  'held',
  'violations',
  'forcedRepick',
  'expired',
  'expiredMoved',
  'listFull',
  'setFull',
  'crossFrontend',
  'unknown',
  'udpReplacements',
  'udpBackendChanged',
  'udpReflectiveChanged',
] as const;
/** The counts of ServiceCounts besides the per-backend ones. */
export type CountField = (typeof COUNT_FIELDS)[number];
export const countFields: readonly CountField[] = COUNT_FIELDS;
