// Typed events: what the probe produces from raw records (bpf/record.h) and every later stage consumes. Addresses
// are "ip:port" ("[v6]:port" for IPv6); `ts` is wall-clock microseconds since the Unix epoch (exact in a double
// until 2255).

export type Proto = 'tcp' | 'udp' | 'sctp';
export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

interface Base {
  ts: number;
  node: string;
}

interface Flow extends Base {
  proto: Proto;
  /** Original source: the client. */
  client: string;
  /** Original destination: the Service address. */
  service: string;
  /** Reply source: the backend the connection was sent to. */
  backend: string;
  hook: Hook;
  /** Keyed hash of the conntrack entry, as hex; stable for one entry on one node. */
  ctId: string;
  /** Filled by enrichment where known. */
  serviceName?: string;
  backendPod?: string;
}

/** A NEW connection whose destination was translated: one backend selection. */
export interface DnatEvent extends Flow {
  type: 'dnat';
}

/** A NEW connection whose source was translated; `snat` is what the backend sees. */
export interface SnatEvent extends Flow {
  type: 'snat';
  snat: string;
}

/** A NEW conntrack entry about to be confirmed (any connection, translated or not). */
interface InsertEvent extends Flow {
  type: 'insert';
}

/**
 * Records the kernel could not hand over (ring buffer full) or a subscriber missed; with `source` `conntrack`, overruns
 * of the helper's conntrack event socket (ENOBUFS), each one or more `close`s lost until the next sweep finds them.
 */
export interface LostEvent extends Base {
  type: 'lost';
  count: number;
  /** Absent: the ring buffer or a subscriber's queue. */
  source?: 'conntrack';
}

/** TCP states as conntrack names them (`conntrack -L`), indexed by the kernel's enum tcp_conntrack. */
export const TCP_STATES = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
] as const;
export type TcpState = (typeof TCP_STATES)[number];

/**
 * Packets and bytes of one connection each way since it began (nf_conntrack_acct): all four, or none where the
 * kernel counts nothing (accounting off, or the connection began before it was switched on).
 */
interface ConnCounts {
  /** Client to backend: the original direction. */
  origPackets: number;
  origBytes: number;
  /** Backend to client: the reply direction. */
  replyPackets: number;
  replyBytes: number;
}

/**
 * One DNATed conntrack entry: a connection to a Service that lives for a while. A connection is known by
 * (node, proto, client, service), never by `ctId`: the netlink conntrack id is another scheme than the probe's hash.
 */
interface Conn extends Base {
  proto: Proto;
  client: string;
  service: string;
  backend: string;
  /** TCP only. */
  tcpState?: TcpState;
  /** When the connection began (µs since the epoch): the kernel's nf_conntrack_timestamp, or its `dnat`; absent: unknown. */
  start?: number;
  /** Filled by enrichment where known. */
  serviceName?: string;
  backendPod?: string;
}

/**
 * A connection open that no `dnat` announced: open when tracing began (`seen` `dump`), or found by a later sweep
 * (`sweep`: its `dnat` was lost, or it began while the probe attached). Never a new selection.
 */
export interface OpenEvent extends Conn, Partial<ConnCounts> {
  type: 'open';
  seen: 'dump' | 'sweep';
}

/**
 * A connection ended: its conntrack entry was destroyed (`seen` `destroy`, `ts` the kernel's message) or a sweep
 * found it gone (`sweep`: the end lies in (`since`, `ts`], and counters are the last sweep's). Counters are final.
 */
interface CloseEvent extends Conn, Partial<ConnCounts> {
  type: 'close';
  seen: 'destroy' | 'sweep';
  /** `sweep` only: the previous sweep, after which the connection ended. */
  since?: number;
}

/** A sweep's cumulative counters of an open connection, sent only when they moved since the previous sweep. */
interface TrafficEvent extends Conn, ConnCounts {
  type: 'traffic';
}

/**
 * One walk of the node's conntrack table ended (`initial`: the dump at attach). What the `open`, `close` and `traffic`
 * events before it add up to: the connections open now are exactly those opened and not closed.
 */
export interface SweepEvent extends Base {
  type: 'sweep';
  initial: boolean;
  /** The node's conntrack entries (translated or not) when the walk ended. */
  entries: number;
  /** DNATed connections open after it. */
  open: number;
  /** Whether the entries carried packet and byte counters (nf_conntrack_acct). */
  acct: boolean;
  /** How long the walk took. */
  micros: number;
}

/** Periodic conntrack statistics of the node (sums over CPUs). */
export interface CountersEvent extends Base {
  type: 'counters';
  insertFailed: number;
  drop: number;
  earlyDrop: number;
  entries: number;
}

/** What a node's kube-proxy rules (or the Kubernetes API) say about its Services, whenever it changes. */
/** How kube-proxy programs a node: the agent reads `iptables-save`, or the `ip kube-proxy` nftables table. */
export type ProxyMode = 'iptables' | 'nftables';

export interface CatalogEvent extends Base {
  type: 'catalog';
  services: ServiceInfo[];
  /** The node's kube-proxy mode the services were read from; absent from the API's catalogs and older agents. */
  proxyMode?: ProxyMode;
  /** The API's catalogs: every node of the cluster, with its topology.kubernetes.io/zone where it has one. */
  nodes?: NodePlace[];
}

export interface NodePlace {
  name: string;
  zone?: string;
}

/** One endpoint as its EndpointSlice places it (the API's catalogs). */
export interface EndpointPlace {
  /** "ip:port", as in ServiceInfo.endpoints. */
  endpoint: string;
  node?: string;
  zone?: string;
  /** hints.forZones and hints.forNodes names. */
  zoneHints?: string[];
  nodeHints?: string[];
  /** conditions: ready (absent in the API: true), serving, terminating. */
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/** What decides where kube-proxy sends traffic to one address of a Service (the API's catalogs). */
export interface ServiceTopology {
  /** The address's traffic policy: internalTrafficPolicy for a cluster IP, externalTrafficPolicy otherwise. */
  policy: 'Cluster' | 'Local';
  /** spec.trafficDistribution, when set. */
  distribution?: string;
  /** Every endpoint of the address's family and port, ready or not. */
  endpoints: EndpointPlace[];
}

/** The `node` of catalogs from the Kubernetes API: they describe the whole cluster. */
export const CLUSTER_NODE = '';

/** Kubernetes' sessionAffinityConfig.clientIP.timeoutSeconds when a ClientIP Service gives none: 3 hours. */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

export interface ServiceInfo {
  /** "10.96.0.10:80/tcp": the key every metric is kept under. */
  service: string;
  /** "namespace/name:port" when known. */
  name: string | null;
  affinity: { mode: 'ClientIP' | 'None'; timeoutSeconds: number | null; source: 'k8s' | 'rules' | 'inferred' };
  /** Endpoints at this moment, "ip:port", including those never selected. */
  endpoints: string[];
  /** Pod names by endpoint, where known. */
  pods?: Record<string, string>;
  /**
   * The node's kube-proxy refuses connections to this address: the Service has no ready endpoints (or, for an external
   * address or NodePort of a Local Service, none on this node). `drop` silently, `reject` with an ICMP error. Absent:
   * not refused (or an older agent).
   */
  noEndpoints?: 'drop' | 'reject';
  /** The API's catalogs: the address's traffic policy and where its endpoints are. */
  topology?: ServiceTopology;
}

/**
 * A client's entry vanished from a full xt_recent list (/proc/net/xt_recent/KUBE-SEP-*)
 * before its affinity timeout: the kernel evicted it to make room. The lists are read
 * periodically, so the eviction is known only to lie in (`since`, `ts`]: after the
 * previous read began and before the read that missed the entry ended.
 */
export interface EvictedEvent extends Base {
  type: 'evicted';
  /** Start of the interval (the previous read); absent in older traces, where only `ts` is known. */
  since?: number;
  /** The list, named after the KUBE-SEP chain. */
  list: string;
  /** The endpoint that list belongs to, "ip:port". */
  endpoint: string;
  /** Client IP. */
  client: string;
  /** Entries the list held when it was seen full (ip_list_tot), or the nftables set's size. */
  capacity: number;
  /**
   * Absent: evicted from a full xt_recent list. `setFull` (nftables mode): the client was never added to the full
   * affinity set of the endpoint it was sent to (`since` is that selection), so nothing pins it; a full set evicts
   * nothing.
   */
  cause?: 'setFull';
}

/** One nftables affinity set's fill: how many clients it pins of the most it can. */
export interface AffinitySetFill {
  /** The set, "affinity-..." */
  set: string;
  /** The Service it belongs to, "ip:port/proto", and its endpoint "ip:port". */
  service: string;
  endpoint: string;
  elements: number;
  size: number;
}

/** nftables mode: the node's affinity sets and their fill, sent whenever a count changed. */
export interface AffinitySetsEvent extends Base {
  type: 'affinitySets';
  sets: AffinitySetFill[];
}

/**
 * The agent's watermark: the node's rules (every family it reads) were read, or checked unchanged, at `readAt`, and the
 * latest catalog it sent says what they said then. A verdict on a pick at or before `readAt` can be judged by that
 * catalog; a later pick's may wait for the next one (src/aggregator/pending-verdicts.ts). Sent after a read that
 * follows flows or a change, so an idle node sends none; older agents send none at all.
 */
export interface RulesReadEvent extends Base {
  type: 'rulesRead';
  /** When the read began, microseconds (at or before `ts`, when it was sent). */
  readAt: number;
}

/** An agent went away or came back, as seen by whoever subscribes to it. */
export interface NodeEvent extends Base {
  type: 'node';
  state: 'up' | 'down';
  reason?: string;
}

export type StickyEvent =
  | DnatEvent
  | SnatEvent
  | InsertEvent
  | LostEvent
  | CountersEvent
  | CatalogEvent
  | EvictedEvent
  | AffinitySetsEvent
  | RulesReadEvent
  | NodeEvent
  | OpenEvent
  | CloseEvent
  | TrafficEvent
  | SweepEvent;
export type FlowEvent = DnatEvent | SnatEvent | InsertEvent;
/** The events of one live connection: paired by (node, proto, client, service). */
export type ConnEvent = OpenEvent | CloseEvent | TrafficEvent;

/** ISO-8601 with microseconds, as in docs/design.md's export format. */
export function isoMicros(ts: number): string {
  const ms = Math.floor(ts / 1000);
  const micros = Math.round(ts - ms * 1000);
  return new Date(ms)
    .toISOString()
    .replace(/\.(\d{3})Z$/, (_m, frac: string) => `.${frac}${String(micros).padStart(3, '0')}Z`);
}

/** Parses isoMicros' output back into microseconds since the epoch. */
export function parseIsoMicros(iso: string): number {
  const m = /^(.*\.\d{3})(\d{3})?Z$/.exec(iso);
  if (!m) return Date.parse(iso) * 1000;
  return Date.parse(`${m[1]}Z`) * 1000 + Number(m[2] ?? 0);
}

/** The client's IP: the affinity key of sessionAffinity: ClientIP. */
export function hostOf(addr: string): string {
  if (addr.startsWith('[')) return addr.slice(1, addr.indexOf(']'));
  const i = addr.lastIndexOf(':');
  return i < 0 ? addr : addr.slice(0, i);
}

/** Anything that emits batches of events: the probe (src/probe/probe.ts), or the agent's enriched stream built on it. */
export interface EventSource {
  on(event: 'events', listener: (events: StickyEvent[]) => void): unknown;
  off(event: 'events', listener: (events: StickyEvent[]) => void): unknown;
}
