// The one check of events where they enter stickyscope (an agent's stream, a trace
// file's batches and header): what the aggregator, reports and displays may assume of
// an event. Rejected events are dropped and counted by reason, never passed on.
import { nodesProblem, topologyProblem } from './validate-topology.js';
import { printable } from '../core/text.js';
import { isIPv6 } from 'node:net';
import type { StickyEvent } from '../core/event.js';
import { connProblem, sweepProblem } from './validate-conn.js';

/**
 * Why an event was rejected; the keys of the report's `rejectedEvents.reasons`.
 * timeNotFinite: NaN or ±Infinity; timeTooEarly / timeTooLate: outside plausibleTime;
 * badAddress: an address field that is not "ip:port" (or "[v6]:port") with a port up to
 * 65535; badCount: a count that is negative, fractional or beyond MAX_COUNT;
 * malformed: a missing or null part, a field of the wrong type, an unknown enum value.
 */
const rejectReasons = ['timeNotFinite', 'timeTooEarly', 'timeTooLate', 'badAddress', 'badCount', 'malformed'] as const;
export type RejectReason = (typeof rejectReasons)[number];

export interface Rejection {
  reason: RejectReason;
  /** The field at fault, as a path ("ts", "services[2].endpoints[0]"). */
  field: string;
  /** What was wrong, what was expected, what was seen. */
  detail: string;
}

/**
 * Event times are microseconds since the epoch. Plausible means from 2000-01-01 (before
 * eBPF existed, so earlier times are unit mistakes - seconds or milliseconds - or zero)
 * to one hour after this machine's clock: nothing can have been observed later than now,
 * and an hour leaves room for nodes' clocks running ahead of the reader's (NTP keeps them
 * within milliseconds). The upper bound is what matters: the aggregator's window and
 * idle expiry follow the latest time seen, so one event from the future would evict
 * every client's state.
 */
const MIN_PLAUSIBLE_US = Date.UTC(2000, 0, 1) * 1000;
const MAX_AHEAD_US = 3600 * 1e6;

/**
 * Largest count one event may carry (lost records, conntrack counters, list capacity):
 * 2^32, more than a kernel counter of one report interval reaches, and well inside the
 * integers a double holds exactly, so sums of counts stay exact.
 */
const MAX_COUNT = 2 ** 32;

/** Longest affinity timeout Kubernetes accepts (sessionAffinityConfig.clientIP.timeoutSeconds). */
const MAX_AFFINITY_SECONDS = 86400;

const protos = new Set(['tcp', 'udp', 'sctp']);
const hooks = new Set(['prerouting', 'input', 'forward', 'output', 'postrouting']);

/** Why `ts` is not a plausible event time at wall-clock `nowUs`, or null. */
export function timeProblem(ts: unknown, field: string, nowUs: number): Rejection | null {
  if (typeof ts !== 'number')
    return { reason: 'malformed', field, detail: `${field} should be a number; got ${show(ts)}` };
  if (!Number.isFinite(ts)) return { reason: 'timeNotFinite', field, detail: `${field} is ${ts}, not a time` };
  if (ts < MIN_PLAUSIBLE_US)
    return {
      reason: 'timeTooEarly',
      field,
      detail: `${field} ${ts} µs is before 2000-01-01, not a plausible event time (microseconds since the epoch expected)`,
    };
  if (ts > nowUs + MAX_AHEAD_US)
    return {
      reason: 'timeTooLate',
      field,
      detail: `${field} ${ts} µs is more than an hour after this machine's clock (${Math.round(nowUs)} µs)`,
    };
  return null;
}

/** Why `x` is not a StickyEvent to pass on, or null when it is one. */
export function eventProblem(x: unknown, nowUs: number): Rejection | null {
  if (typeof x !== 'object' || x === null) return malformed('event', 'an object', x);
  const e = x as Record<string, unknown>;
  const t = timeProblem(e.ts, 'ts', nowUs);
  if (t) return t;
  if (typeof e.node !== 'string') return malformed('node', 'a string', e.node);
  switch (e.type) {
    case 'dnat':
    case 'insert':
      return flowProblem(e);
    case 'snat':
      return flowProblem(e) ?? addressProblem(e.snat, 'snat', true);
    case 'lost':
      if (e.source !== undefined && e.source !== 'conntrack')
        return malformed('source', "absent or 'conntrack'", e.source);
      return countProblem(e.count, 'count');
    case 'open':
    case 'close':
    case 'traffic':
      return connProblem(e, nowUs);
    case 'sweep':
      return sweepProblem(e);
    case 'counters':
      for (const f of ['insertFailed', 'drop', 'earlyDrop', 'entries']) {
        const p = countProblem(e[f], f);
        if (p) return p;
      }
      return null;
    case 'catalog':
      return catalogProblem(e);
    case 'evicted':
      return evictedProblem(e, nowUs);
    case 'affinitySets':
      return affinitySetsProblem(e);
    case 'rulesRead': {
      const t = timeProblem(e.readAt, 'readAt', nowUs);
      if (t) return t;
      // A read is announced once done: a watermark ahead of its own event would settle verdicts on rules not read yet.
      return (e.readAt as number) > (e.ts as number)
        ? malformed('readAt', `a time no later than ts ${e.ts}`, e.readAt)
        : null;
    }
    case 'node':
      if (e.state !== 'up' && e.state !== 'down') return malformed('state', "'up' or 'down'", e.state);
      return e.reason === undefined || typeof e.reason === 'string' ? null : malformed('reason', 'a string', e.reason);
    default:
      return malformed('type', 'a known event type', e.type);
  }
}

function flowProblem(e: Record<string, unknown>): Rejection | null {
  if (typeof e.proto !== 'string' || !protos.has(e.proto)) return malformed('proto', 'tcp, udp or sctp', e.proto);
  if (typeof e.hook !== 'string' || !hooks.has(e.hook)) return malformed('hook', 'a netfilter hook name', e.hook);
  // A client's ip:port is new with nearly every connection: cached, it would only push out the services and backends.
  const p =
    addressProblem(e.client, 'client', true, false) ??
    addressProblem(e.service, 'service', true) ??
    addressProblem(e.backend, 'backend', true);
  if (p) return p;
  if (typeof e.ctId !== 'string') return malformed('ctId', 'a string', e.ctId);
  if (e.serviceName !== undefined && typeof e.serviceName !== 'string')
    return malformed('serviceName', 'a string', e.serviceName);
  if (e.backendPod !== undefined && typeof e.backendPod !== 'string')
    return malformed('backendPod', 'a string', e.backendPod);
  return null;
}

function evictedProblem(e: Record<string, unknown>, nowUs: number): Rejection | null {
  if (e.since !== undefined) {
    const t = timeProblem(e.since, 'since', nowUs);
    if (t) return t;
    if ((e.since as number) > (e.ts as number)) return malformed('since', `a time no later than ts ${e.ts}`, e.since);
  }
  if (typeof e.list !== 'string') return malformed('list', 'a string', e.list);
  if (e.cause !== undefined && e.cause !== 'setFull') return malformed('cause', "absent or 'setFull'", e.cause);
  return (
    addressProblem(e.endpoint, 'endpoint', true) ??
    addressProblem(e.client, 'client', false) ??
    countProblem(e.capacity, 'capacity')
  );
}

function affinitySetsProblem(e: Record<string, unknown>): Rejection | null {
  if (!Array.isArray(e.sets)) return malformed('sets', 'a list', e.sets);
  for (let i = 0; i < e.sets.length; i++) {
    const at = `sets[${i}]`;
    const s = e.sets[i] as Record<string, unknown> | null;
    if (typeof s !== 'object' || s === null) return malformed(at, 'a set object', s);
    if (typeof s.set !== 'string') return malformed(`${at}.set`, 'a string', s.set);
    const key = typeof s.service === 'string' ? /^(.*)\/(tcp|udp|sctp)$/.exec(s.service) : null;
    if (!key) return malformed(`${at}.service`, '"ip:port/proto"', s.service);
    const p =
      addressProblem(key[1], `${at}.service`, true) ??
      addressProblem(s.endpoint, `${at}.endpoint`, true) ??
      countProblem(s.elements, `${at}.elements`) ??
      countProblem(s.size, `${at}.size`);
    if (p) return p;
  }
  return null;
}

function catalogProblem(e: Record<string, unknown>): Rejection | null {
  if (e.proxyMode !== undefined && e.proxyMode !== 'iptables' && e.proxyMode !== 'nftables')
    return malformed('proxyMode', "absent, 'iptables' or 'nftables'", e.proxyMode);
  if (!Array.isArray(e.services)) return malformed('services', 'a list', e.services);
  const np = nodesProblem(e.nodes);
  if (np) return np;
  for (let i = 0; i < e.services.length; i++) {
    const p = serviceProblem(e.services[i], `services[${i}]`);
    if (p) return p;
  }
  return null;
}

function serviceProblem(x: unknown, at: string): Rejection | null {
  if (typeof x !== 'object' || x === null) return malformed(at, 'a service object', x);
  const s = x as Record<string, unknown>;
  const key = typeof s.service === 'string' ? /^(.*)\/(tcp|udp|sctp)$/.exec(s.service) : null;
  if (!key)
    return {
      reason: 'badAddress',
      field: `${at}.service`,
      detail: `${at}.service should be "ip:port/proto"; got ${show(s.service)}`,
    };
  const ap = addressProblem(key[1], `${at}.service`, true);
  if (ap) return ap;
  if (s.name !== null && typeof s.name !== 'string') return malformed(`${at}.name`, 'a string or null', s.name);
  const a = s.affinity as Record<string, unknown> | null | undefined;
  if (typeof a !== 'object' || a === null) return malformed(`${at}.affinity`, 'an object', a);
  if (a.mode !== 'ClientIP' && a.mode !== 'None')
    return malformed(`${at}.affinity.mode`, "'ClientIP' or 'None'", a.mode);
  if (a.source !== 'k8s' && a.source !== 'rules' && a.source !== 'inferred')
    return malformed(`${at}.affinity.source`, "'k8s', 'rules' or 'inferred'", a.source);
  const timeout = a.timeoutSeconds;
  if (
    timeout !== null &&
    !(typeof timeout === 'number' && Number.isInteger(timeout) && timeout > 0 && timeout <= MAX_AFFINITY_SECONDS)
  )
    return malformed(
      `${at}.affinity.timeoutSeconds`,
      `null or whole seconds from 1 to ${MAX_AFFINITY_SECONDS}`,
      timeout,
    );
  if (!Array.isArray(s.endpoints)) return malformed(`${at}.endpoints`, 'a list', s.endpoints);
  for (let j = 0; j < s.endpoints.length; j++) {
    const p = addressProblem(s.endpoints[j], `${at}.endpoints[${j}]`, true);
    if (p) return p;
  }
  if (s.pods !== undefined) {
    if (typeof s.pods !== 'object' || s.pods === null || Array.isArray(s.pods))
      return malformed(`${at}.pods`, 'an object', s.pods);
    for (const [k, v] of Object.entries(s.pods))
      if (typeof v !== 'string') return malformed(`${at}.pods[${k}]`, 'a string', v);
  }
  if (s.noEndpoints !== undefined && s.noEndpoints !== 'drop' && s.noEndpoints !== 'reject')
    return malformed(`${at}.noEndpoints`, "'drop', 'reject' or absent", s.noEndpoints);
  return topologyProblem(s.topology, `${at}.topology`);
}

/**
 * Addresses that passed lately, by a hash of their text: services and backends repeat
 * from event to event, and checking them again dominated the cost of validation.
 */
const OK_SLOTS = 1024;
/** Filled with a string no check passes, so an empty slot never vouches for anything. */
const okAddresses: string[] = new Array<string>(OK_SLOTS).fill('!');

/** "a.b.c.d:port", "[v6]:port", or with withPort false a bare IP; `cache` for addresses that repeat. */
export function addressProblem(x: unknown, field: string, withPort: boolean, cache = true): Rejection | null {
  if (typeof x === 'string' && withPort && !cache) {
    if (isHostPort(x)) return null;
  } else if (typeof x === 'string' && withPort) {
    const slot = (x.length * 31 + x.charCodeAt(x.length - 1) * 7 + x.charCodeAt(x.length - 3)) & (OK_SLOTS - 1);
    if (okAddresses[slot] === x) return null;
    if (isHostPort(x)) {
      okAddresses[slot] = x;
      return null;
    }
  } else if (typeof x === 'string' && (isIPv4(x, 0, x.length) || isIPv6(x))) return null;
  const want = withPort ? '"ip:port" or "[ipv6]:port" with a port from 0 to 65535' : 'an IP address';
  return { reason: 'badAddress', field, detail: `${field} should be ${want}; got ${show(x)}` };
}

export function isHostPort(s: string): boolean {
  if (s.charCodeAt(0) === 91 /* [ */) {
    const close = s.indexOf(']');
    return (
      close > 0 &&
      s.charCodeAt(close + 1) === 58 &&
      isIPv6(s.slice(1, close)) &&
      isDecimal(s, close + 2, s.length, 65535)
    );
  }
  const colon = ipv4End(s, 0, s.length);
  return colon !== -1 && s.charCodeAt(colon) === 58 && isDecimal(s, colon + 1, s.length, 65535);
}

function isIPv4(s: string, start: number, end: number): boolean {
  return ipv4End(s, start, end) === end;
}

/**
 * The index just past a dotted-quad IPv4 address starting at s[start] (its end, or the
 * first character that is not part of it), or -1. One pass without substrings: this runs per event.
 */
function ipv4End(s: string, start: number, end: number): number {
  let i = start;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (s.charCodeAt(i) !== 46) return -1;
      i++;
    }
    let v = 0;
    const first = i;
    for (; i < end && i - first < 3; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (i === first || v > 255) return -1;
  }
  return i;
}

/** 1 to 5 decimal digits in s[start, end) of value at most `max`. */
function isDecimal(s: string, start: number, end: number, max: number): boolean {
  if (end <= start || end - start > 5) return false;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    v = v * 10 + d;
  }
  return v <= max;
}

export function countProblem(x: unknown, field: string): Rejection | null {
  if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_COUNT) return null;
  return {
    reason: typeof x === 'number' ? 'badCount' : 'malformed',
    field,
    detail: `${field} should be a whole number from 0 to ${MAX_COUNT}; got ${show(x)}`,
  };
}

export function malformed(field: string, expected: string, got: unknown): Rejection {
  return { reason: 'malformed', field, detail: `${field} should be ${expected}; got ${show(got)}` };
}

/** A value for a one-line message: short, and with control characters escaped by JSON. */
function show(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (typeof x === 'number') return String(x);
  let s: string;
  try {
    s = JSON.stringify(x) ?? String(x);
  } catch {
    s = String(x);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Counts of rejected events by reason, over every source that feeds one report. */
export class RejectedEvents {
  total = 0;
  readonly reasons = Object.fromEntries(rejectReasons.map((r) => [r, 0])) as Record<RejectReason, number>;

  add(reason: RejectReason): void {
    this.total++;
    this.reasons[reason]++;
  }

  /** For the report: the total and every reason, zeros included, so the shape is fixed. */
  toJSON(): { total: number; reasons: Record<RejectReason, number> } {
    return { total: this.total, reasons: { ...this.reasons } };
  }
}

/**
 * The acceptable events of a batch (the batch itself when all are), counting each
 * rejected one in `tally` and handing the first rejection to `onFirst`.
 */
export function admitEvents(
  batch: StickyEvent[],
  tally: RejectedEvents,
  onFirst: (r: Rejection, index: number) => void,
  nowUs = Date.now() * 1000,
  /** An agent speaks for its own node only: events naming another are refused (a stream could invent nodes). */
  node?: string,
): StickyEvent[] {
  let out: StickyEvent[] | null = null;
  for (let i = 0; i < batch.length; i++) {
    const problem = eventProblem(batch[i], nowUs) ?? (node === undefined ? null : nodeProblem(batch[i]!, node));
    if (problem === null) {
      out?.push(batch[i]!);
      continue;
    }
    if (out === null) {
      out = batch.slice(0, i);
      onFirst(problem, i);
    }
    tally.add(problem.reason);
  }
  return out ?? batch;
}

function nodeProblem(e: StickyEvent, node: string): Rejection | null {
  return e.node === node
    ? null
    : {
        reason: 'malformed',
        field: 'node',
        detail: `node is '${printable(e.node.slice(0, 80))}'; expected the agent's own node '${node}'`,
      };
}
