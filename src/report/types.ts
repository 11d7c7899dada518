// The `report --format json` object (docs/design.md, "The report JSON"). Field names
// are a contract outside checks rely on; fields beyond the contract are marked.
import type { TopologyFigures } from '../aggregator/topology.js';
import type { AffinitySetRow } from '../aggregator/affinity-sets.js';
import type { Refusal } from '../aggregator/refused.js';
import type { SpreadVerdict } from '../aggregator/spread-verdict.js';
import type { ServiceInfo } from '../core/event.js';
import type { RejectReason } from '../protocol/validate.js';
import type { Finding } from './findings.js';

export type Scope = 'window' | 'cumulative';

export interface Report {
  window: {
    start: string;
    end: string;
    /** Beyond the contract: which span this report covers. */
    scope: Scope;
    /** Beyond the contract: the window length asked for (null for cumulative). */
    seconds: number | null;
    /** Beyond the contract: true when the window held too many selections and starts later than asked. */
    truncated: boolean;
    /** Beyond the contract: spans in which a node was not reporting (ongoing ones end at `end`). */
    missing: MissingSpan[];
    /**
     * Beyond the contract: when the recording began and ended (trace files' header and end frame, an agent
     * subscription's start and stop, serve's start and the report's time); null where the source says nothing.
     */
    recording: { start: string; end: string } | null;
  };
  nodes: string[];
  lostEvents: number;
  /**
   * Beyond the contract: entries dropped to bound memory, cumulative: (node, service,
   * client) entries idle or over capacity, and violations whose cause was settled
   * `unknown` before a late xt_recent eviction could still explain them.
   */
  evictions: { idle: number; capacity: number; services: number; openViolations: number };
  /**
   * Beyond the contract: events dropped where they entered (an agent's stream, a trace
   * file), cumulative whatever the window, because no figure could use them. By reason
   * (every reason listed, zeros included): timeNotFinite (NaN, ±Infinity), timeTooEarly
   * (before 2000-01-01: a unit mistake or zero), timeTooLate (more than an hour after the
   * reading machine's clock: such an event would move the window and evict every client's
   * state), badAddress (not "ip:port" / "[v6]:port", port above 65535), badCount (a count
   * negative, fractional or above 2^32), malformed (missing or null parts, wrong types,
   * unknown values). src/protocol/validate.ts has the definitions.
   */
  rejectedEvents: { total: number; reasons: Record<RejectReason, number> };
  services: ServiceReport[];
  /**
   * Beyond the contract, from `serve` only: its /metrics cap (--metrics-max-services) and
   * how many Services it leaves out of /metrics (those with the fewest selections).
   */
  metrics?: { maxServices: number; servicesOmitted: number };
  /**
   * Beyond the contract: present when the report was made from the agents' summaries
   * (serve --summaries, report --summaries): how many nodes sent them and how many came.
   * Such a report has no per-client rows and no node divergence (both need the clients).
   */
  summaries?: { nodes: number; received: number; dropped: { nodes: number; services: number; backends: number } };
  /**
   * Present when some node's helper reads its conntrack table (live connections): those nodes, whether each counted
   * bytes at its last sweep (null before its first), and connections not followed for the state's limit.
   */
  liveSource?: LiveSource;
  /** Beyond the contract, added when rendered: the command line that made the report, where one did. */
  command?: string;
  /** Beyond the contract, added when rendered: what an incident channel needs, each with its next step (findings.ts). */
  findings?: Finding[];
}

export interface LiveSource {
  nodes: string[];
  bytes: Record<string, boolean | null>;
  connectionsDropped: number;
}

/** Spread statistics of one measure of load, with the verdict new connections get. */
interface LoadSpreadReport {
  maxOverMean: number | null;
  cv: number | null;
  jain: number | null;
  chi2P: number | null;
  verdict: 'uniform' | 'skewed' | 'n/a';
}

export interface MissingSpan {
  node: string;
  start: string;
  end: string;
  ongoing: boolean;
}

export interface ServiceReport {
  service: string;
  name: string | null;
  /**
   * Beyond the contract, Services with an IPv6 address only: every address of the Service (a dual-stack Service's
   * IPv4 and IPv6 addresses are one Service), and its selections by the family they came in.
   */
  addresses?: string[];
  families?: { ipv4: number; ipv6: number };
  /**
   * Beyond the contract, a Service port reached at several addresses (cluster IPs, NodePorts at node addresses,
   * external and load-balancer IPs, either family): one Service, as kube-proxy's affinity is; selections through each.
   */
  frontends?: { address: string; selections: number }[];
  affinity: ServiceInfo['affinity'];
  /**
   * Beyond the contract, where some node's kube-proxy refuses the Service (no endpoints there, or none on the node for
   * a Local one): `reject` if any node rejects, else `drop`, and those nodes. Absent where none does.
   */
  noEndpoints?: Refusal;
  /**
   * With the API's catalog (`--k8s`): where the picks went in the cluster's topology and where kube-proxy should send
   * them, per node (src/aggregator/topology.ts).
   */
  topology?: TopologyFigures;
  selections: number;
  backends: BackendReport[];
  spread: { maxOverMean: number | null; cv: number | null; jain: number | null; chi2P: number | null };
  /**
   * Beyond the contract: whether the spread is even, judged on independent picks (under ClientIP affinity each
   * client's pick once per affinity period, else every selection), "too few to judge" below `minN`.
   */
  spreadVerdict: SpreadVerdict;
  stickiness: { pairs: number; sameBackend: number; ratio: number | null; expectedRandom: number | null };
  affinityVerdicts: {
    held: number;
    violation: number;
    forcedRepick: number;
    expired: number;
    compliance: number | null;
    violationCauses: { listFull: number; setFull: number; crossFrontend: number; unknown: number };
    /**
     * Re-picks waiting for their node's rules to say whether the old backend had gone: in neither `violation` nor
     * `forcedRepick` yet. Always 0 at the end of a file or `report --agent`; live (`serve`) it may not be.
     */
    pending: number;
    /** Beyond the contract: expired pairs that moved to another backend. */
    expiredMoved: number;
  };
  /**
   * Beyond the contract: clients whose last backend differs between the nodes they came
   * through, the Service's other addresses of the same name included (NodePorts at each
   * node's address); `via` names the address used on each node when they differ.
   */
  nodeDivergence: {
    clients: number;
    examples: { client: string; backends: Record<string, string>; via?: Record<string, string> }[];
  };
  /**
   * Beyond the contract, nftables mode: each node's affinity sets of this Service, latest fill (elements / size) and
   * the most elements seen; empty in iptables mode.
   */
  affinitySets: AffinitySetReport[];
  /** Beyond the contract, UDP services only: conntrack entries replaced on the same flow. */
  udpContinuity?: { replacements: number; backendChanged: number; reflectiveChanged: number };
  clients: ClientReport[];
  /** With `liveSource`: connections open at the report's end. */
  liveConnections?: number;
  /** With `liveSource`: the spread by new connections, by open connections and by bytes (null: no bytes counted). */
  loadSpread?: { selections: LoadSpreadReport; liveConnections: LoadSpreadReport; bytes: LoadSpreadReport | null };
  /** With `liveSource`, when endpoints joined while tracing: the open connections older than the newest of them. */
  predatingConnections?: {
    open: number;
    predating: number;
    newestEndpoints: string[];
    joined: string;
    /** "3 of 3 open connections predate the 2 newest endpoints" when every open one does, else null. */
    text: string | null;
  } | null;
  /** Beyond the contract, from summaries only: distinct client IPs, estimated from the nodes' merged sketches. */
  clientsEstimate?: number;
}

type AffinitySetReport = AffinitySetRow;

export interface BackendReport {
  backend: string;
  /** Beyond the contract: a pod's other addresses (its other family), when the catalog names the pod. */
  addresses?: string[];
  /** Beyond the contract: the pod, `namespace/name`, where a catalog names it (the API's, or an agent's --pods). */
  pod?: string;
  selections: number;
  share: number;
  clients: number;
  /** With `liveSource`: open connections now, bytes in the span (null: not counted), and the oldest one's age. */
  liveConnections?: number;
  bytes?: number | null;
  bytesPerSecond?: number | null;
  oldestConnectionSeconds?: number | null;
}

export interface ClientReport {
  client: string;
  selections: number;
  backends: Record<string, number>;
  stickiness: number | null;
  /** Beyond the contract: this client's pairs judged an affinity violation (any cause). */
  violations: number;
  nodes: string[];
  /** With `liveSource`: its open connections, by backend, and the bytes they carried in the span. */
  liveConnections?: number;
  liveBackends?: Record<string, number>;
  bytes?: number | null;
}
