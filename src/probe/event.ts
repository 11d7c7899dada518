// Typed events: what the probe produces from raw records (bpf/record.h) and what
// every later stage (agent, aggregator, recorder, report) consumes.
//
// Addresses are "ip:port" strings ("[v6]:port" for IPv6); `ts` is wall-clock time in
// microseconds since the Unix epoch (a double holds that exactly until year 2255).

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
export interface InsertEvent extends Flow {
  type: 'insert';
}

/** Records the kernel could not hand over (ring buffer full) or a subscriber missed. */
export interface LostEvent extends Base {
  type: 'lost';
  count: number;
}

/** Periodic conntrack statistics of the node (sums over CPUs). */
export interface CountersEvent extends Base {
  type: 'counters';
  insertFailed: number;
  drop: number;
  earlyDrop: number;
  entries: number;
}

export type StickyEvent = DnatEvent | SnatEvent | InsertEvent | LostEvent | CountersEvent;
export type EventType = StickyEvent['type'];
export type FlowEvent = DnatEvent | SnatEvent | InsertEvent;

/** ISO-8601 with microseconds, as in DESIGN.md's export format. */
export function isoMicros(ts: number): string {
  const ms = Math.floor(ts / 1000);
  const micros = Math.round(ts - ms * 1000);
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_m, frac: string) => `.${frac}${String(micros).padStart(3, '0')}Z`);
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
