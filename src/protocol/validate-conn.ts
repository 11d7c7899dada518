// The check of open, close, traffic and sweep events (validate.ts checks the rest and calls these).
import { TCP_STATES } from '../core/event.js';
import { addressProblem, countProblem, malformed, type Rejection, timeProblem } from './validate.js';

const protos = new Set(['tcp', 'udp', 'sctp']);
const tcpStates: ReadonlySet<unknown> = new Set(TCP_STATES);
const seenValues: Readonly<Record<string, readonly string[]>> = {
  open: ['dump', 'sweep'],
  close: ['destroy', 'sweep'],
};
const COUNTS = ['origPackets', 'origBytes', 'replyPackets', 'replyBytes'] as const;

/** Why an open, close or traffic event is not one to pass on, or null. */
export function connProblem(e: Record<string, unknown>, nowUs: number): Rejection | null {
  if (typeof e.proto !== 'string' || !protos.has(e.proto)) return malformed('proto', 'tcp, udp or sctp', e.proto);
  const p =
    addressProblem(e.client, 'client', true, false) ??
    addressProblem(e.service, 'service', true) ??
    addressProblem(e.backend, 'backend', true);
  if (p) return p;
  if (e.tcpState !== undefined && !tcpStates.has(e.tcpState))
    return malformed('tcpState', `absent or one of ${TCP_STATES.join(', ')}`, e.tcpState);
  const seen = seenValues[e.type as string];
  if (seen && !seen.includes(e.seen as string)) return malformed('seen', `one of ${seen.join(', ')}`, e.seen);
  for (const f of ['start', 'since'] as const) {
    if (e[f] === undefined) continue;
    const t = timeProblem(e[f], f, nowUs);
    if (t) return t;
    if ((e[f] as number) > (e.ts as number)) return malformed(f, `a time no later than ts ${e.ts}`, e[f]);
  }
  const given = COUNTS.filter((f) => e[f] !== undefined).length;
  if (given !== 0 || e.type === 'traffic') {
    if (given !== COUNTS.length)
      return malformed(COUNTS.find((f) => e[f] === undefined)!, 'a number, as the other counters are given', undefined);
    for (const f of COUNTS) {
      const c = totalProblem(e[f], f);
      if (c) return c;
    }
  }
  for (const f of ['serviceName', 'backendPod'] as const)
    if (e[f] !== undefined && typeof e[f] !== 'string') return malformed(f, 'a string', e[f]);
  return null;
}

export function sweepProblem(e: Record<string, unknown>): Rejection | null {
  for (const f of ['initial', 'acct'] as const)
    if (typeof e[f] !== 'boolean') return malformed(f, 'true or false', e[f]);
  for (const f of ['entries', 'open', 'micros'] as const) {
    const c = countProblem(e[f], f);
    if (c) return c;
  }
  return null;
}

/** A connection's running total: packets and bytes pass 2^32 on a long-lived one, so any exact whole double. */
function totalProblem(x: unknown, field: string): Rejection | null {
  if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return null;
  return {
    reason: typeof x === 'number' ? 'badCount' : 'malformed',
    field,
    detail: `${field} should be a whole number from 0 to 2^53; got ${typeof x === 'number' ? x : JSON.stringify(x)}`,
  };
}
