import type { TopologyFigures } from '../aggregator/topology.js';
// Exactly what the screen shows, independent of how the aggregator keeps its state:
// the views render only these types, and from-aggregator.ts is the one place that
// builds them, so the views can be tested from hand-written models.

/** `pending`: a re-pick waiting for the node's rules to say whether the old backend had gone. */
export type Verdict = 'held' | 'violation' | 'forcedRepick' | 'expired' | 'pending';

export interface HeaderView {
  /** Nodes whose agents are connected (or that appear in a replayed trace). */
  nodesUp: string[];
  nodesDown: string[];
  /** Events applied per wall-clock second, measured over the last frames. */
  eventsPerSecond: number;
  /** Never hidden: highlighted whenever above zero. */
  lostEvents: number;
  windowSeconds: number;
  /** Where the events come from, e.g. "agents 10.0.0.1:7390" or "replay trace.sst x10". */
  source: string;
  /** Latest event time seen (microseconds since the epoch), null before the first. */
  now: number | null;
  /** First and last event the window's figures count (selections, lost records), null when it counts none. */
  counted: { start: number; end: number } | null;
}

/** What the share bars measure: new connections (selections), connections open now, or bytes in the window. */
export type LoadMeasure = 'new' | 'open' | 'bytes';

export interface BackendShare {
  backend: string;
  pod: string | null;
  selections: number;
  /** Fraction of the service's selections over the window, 0..1. */
  share: number;
  /** Connections open now and the bytes they carry; absent without a conntrack source. */
  load?: BackendLoadView;
}

interface BackendLoadView {
  /** Connections open now, and their fraction of the Service's. */
  live: number;
  liveShare: number;
  /** Bytes both ways per second over the window, and their fraction of the Service's; null: no node counts bytes
   * (nf_conntrack_acct off), so there is no figure rather than 0. */
  bytesPerSecond: number | null;
  bytesShare: number;
  /** When its oldest open connection began (µs); filled in the detail only, null otherwise or with none open. */
  oldestStart: number | null;
  /** False when that start is only when stickyscope first heard of it (no nf_conntrack_timestamp): at least that old. */
  oldestKnown?: boolean;
}

export interface ServiceRow {
  /** "10.96.0.10:80/tcp": the key. */
  service: string;
  /** A dual-stack Service's addresses, both families (the filter matches them); absent for one address. */
  addresses?: string[];
  /** "namespace/name:port" when known. */
  name: string | null;
  /** null while no node has described the service (no catalog yet). */
  affinity: { mode: 'ClientIP' | 'None'; timeoutSeconds: number | null } | null;
  selections: number;
  selectionsPerSecond: number;
  /** Every known endpoint, including those never selected. */
  backends: BackendShare[];
  /** null while there is nothing to compare (no selections, or fewer than two endpoints). */
  maxOverMean: number | null;
  /** The spread's verdict over independent picks (aggregator/spread-verdict.ts): its p, name and words. */
  chi2P: number | null;
  spread: { verdict: 'uniform' | 'skewed' | 'tooFew' | 'none'; head: string; text: string };
  /** Pooled over all consecutive pairs; null before the first pair. */
  stickiness: number | null;
  /** 1/K: what uniform random choice would give. */
  expectedRandom: number | null;
  violations: number;
  /** Re-picks waiting for the node's rules: violations or forced re-picks, not yet known which. */
  pending: number;
  /** Nodes with a selection of it in the window, or with open connections to it (not down). */
  nodes: string[];
  /** Some node's kube-proxy refuses it (no endpoints there): `reject` if any node rejects, else `drop`. */
  noEndpoints?: 'drop' | 'reject';
  /** Connections open now; absent when no node reads its conntrack table (no live figures at all). */
  live?: number;
  /**
   * Every node that fed the Service (its selections or its rules) is down: those nodes, and since when (µs), the
   * latest of their going down. Its figures are the last ones seen, not live.
   */
  stale?: { since: number; nodes: string[] };
  /** "3 of 3 open connections predate the 2 newest endpoints", when every open connection does. */
  predating?: string | null;
  /**
   * With the API's catalog: the window's share of picks in the picking node's zone (null without zoned picks), and
   * whether some node falls back (ignores the hints, or drops under a Local policy).
   */
  topo?: { sameZoneShare: number | null; fallback: boolean };
}

interface ClientSwitch {
  /** Microseconds since the epoch. */
  ts: number;
  /** The backend it left; it moved to the row's current backend. */
  from: string;
  /** Why it was allowed to move; null on a service without affinity. */
  verdict: Verdict | null;
}

/** One client as seen through one node (affinity tables are per node). */
export interface ClientRow {
  client: string;
  node: string;
  /** Backend of the latest selection. */
  backend: string;
  /** Its pod, where known. */
  pod: string | null;
  picks: number;
  stickiness: number | null;
  /** Microseconds since the epoch. */
  lastSelection: number;
  lastSwitch: ClientSwitch | null;
  /** Its open connections to the Service (all nodes); absent without a conntrack source. */
  live?: number;
}

export interface ServiceDetail {
  row: ServiceRow;
  /** Seconds the window's figures span: the window, or less while the events cover less. */
  windowSeconds: number;
  clients: ClientRow[];
  /** Selections per bucket across the window, oldest first. */
  sparkline: number[];
  bucketSeconds: number;
  /** nftables mode: the Service's affinity sets per node, latest fill; empty otherwise. */
  affinitySets: { node: string; endpoint: string; elements: number; size: number }[];
  /** A Service with an IPv6 address: all its addresses and the window's selections by family; null otherwise. */
  families: { addresses: string[]; ipv4: number; ipv6: number } | null;
  /** A Service port reached at several addresses: selections in the window through each, in address order. */
  frontends: { address: string; selections: number }[] | null;
  /** With the API's catalog: the window's picks by node and zone, what each node should use, and why it falls back. */
  topology: TopologyFigures | null;
}

/**
 * `skipped` sums up lines not printed (more than a frame should print, or dropped before
 * the UI read them); `warning` is about the input itself (e.g. a damaged trace file).
 */
export type NotableKind =
  | 'violation'
  | 'pending'
  | 'forcedRepick'
  | 'backendChanged'
  | 'reflectiveChanged'
  | 'nodeDown'
  | 'nodeUp'
  | 'lost'
  | 'skipped'
  | 'warning';

/** One finished line of the event log: printed once, never redrawn. */
export interface NotableLine {
  /** Unique for the run (React key of the static log). */
  id: string;
  ts: number;
  kind: NotableKind;
  text: string;
}

export interface ViewModel {
  header: HeaderView;
  services: ServiceRow[];
  /** Only for the service the user opened: building it for every service each frame would cost for nothing. */
  detail: ServiceDetail | null;
}

/** What the app polls at the frame rate. */
export interface FrameSource {
  /** The current picture; `focus` is the service whose detail is open, if any. */
  snapshot(focus: string | null): ViewModel;
  /** Notable lines produced since the previous call. */
  drainNotable(): NotableLine[];
}
