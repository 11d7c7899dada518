// What a lab client is asked to do and what it reports back, shared by the client
// script and the library that starts it.

type TrafficMode =
  /** HTTP, a new TCP connection per request. */
  | 'http'
  /** HTTP, `perConnection` requests on each connection. */
  | 'keepalive'
  /** UDP, a new socket (new source port) per datagram. */
  | 'udp-sessions'
  /** UDP, every datagram on one socket: one conntrack flow. */
  | 'udp-flow';

export interface TrafficPlan {
  /** A lab service name ("lab/web:http" or "lab/web"). */
  service: string;
  mode: TrafficMode;
  /** Upper bound on requests/datagrams. */
  count: number;
  /** Upper bound on run time. */
  durationMs?: number;
  /** Pause after each request. */
  intervalMs?: number;
  perConnection?: number;
  /** Per request; default 2000. */
  timeoutMs?: number;
  /**
   * 'nodePort' sends to a node's own address and the service's nodePort; 'loadBalancer' and 'externalIP' to the
   * service's first load-balancer IP or external IP, at its port.
   */
  via?: 'clusterIP' | 'nodePort' | 'loadBalancer' | 'externalIP';
  /** Node index for via 'nodePort' (default 0). */
  node?: number;
  /**
   * Which of a dual-stack Service's addresses to call (and the client's address of that family as the source); the
   * Service's primary family when absent.
   */
  family?: 'IPv4' | 'IPv6';
  /**
   * Source addresses of the client's namespace, taken in turn: one per TCP connection
   * or UDP socket (udp-flow uses the first). The client's own address when absent.
   */
  sources?: string[];
}

/** A plan with its address resolved, as the client script receives it. */
export interface ResolvedPlan extends TrafficPlan {
  /** "ip:port", IPv6 bracketed. */
  target: string;
  proto: 'tcp' | 'udp';
}

export interface ClientResult {
  ts: string;
  client: string;
  service: string;
  target: string;
  proto: 'tcp' | 'udp';
  mode: TrafficMode;
  /** Connection (TCP) or socket (UDP) index within this run. */
  conn: number;
  seq: number;
  /** The client's own ip:port ("[ip6]:port" for IPv6). */
  local: string;
  /** Backend name that answered, null on failure. */
  answer: string | null;
  /** UDP: the source address the backend saw. */
  seen?: string;
  error?: string;
  ms: number;
}

/** One line of a backend's log: a TCP connection or a UDP datagram it received. */
export interface BackendLogLine {
  ts: string;
  proto: 'tcp' | 'udp';
  backend: string;
  /** The address the backend was reached at. */
  local: string;
  /** The source the backend saw (after any masquerade). */
  peer: string;
}
