// Checks a summary where it enters (as validate.ts checks events): a Service key that is
// not "ip:port/proto", a backend that is not "ip:port", a count that is no whole number
// a double holds exactly, or a sketch entry list of the wrong size would otherwise reach
// every scrape of /metrics. A summary with any of them is dropped whole and counted.
import type { NodeSummary } from '../core/summary.js';
import { countFields } from '../core/summary.js';
import { HLL_ENTRY_BYTES_MAX } from './summary-wire.js';
import { isHostPort, type Rejection } from './validate.js';

const SERVICE_KEY = /^(.+)\/(tcp|udp|sctp)$/;
/** Most Services and backends one summary may carry: far beyond a real node, small enough to bound serve's memory per node. */
const MAX_SUMMARY_SERVICES = 10_000;
const MAX_SUMMARY_BACKENDS = 10_000;

const count = (v: number) => Number.isSafeInteger(v) && v >= 0;

export function summaryProblem(s: NodeSummary): Rejection | null {
  const bad = (field: string, detail: string): Rejection => ({ reason: 'malformed', field, detail });
  if (!s.node) return bad('summary.node', "summary.node is empty; expected the agent's node name");
  if (s.services.length > MAX_SUMMARY_SERVICES)
    return bad(
      'summary.services',
      `a summary carries ${s.services.length} Services, more than ${MAX_SUMMARY_SERVICES}`,
    );
  for (let i = 0; i < s.services.length; i++) {
    const v = s.services[i]!;
    const at = `summary.services[${i}]`;
    const key = SERVICE_KEY.exec(v.service);
    if (!key || !isHostPort(key[1]!))
      return {
        reason: 'badAddress',
        field: `${at}.service`,
        detail: `${at}.service should be "ip:port/tcp|udp|sctp"; got '${v.service.slice(0, 80)}'`,
      };
    if (v.backends.length > MAX_SUMMARY_BACKENDS)
      return bad(`${at}.backends`, `${v.backends.length} backends, more than ${MAX_SUMMARY_BACKENDS}`);
    for (const b of v.backends) {
      if (!isHostPort(b.backend))
        return {
          reason: 'badAddress',
          field: `${at}.backends`,
          detail: `backend '${b.backend.slice(0, 80)}' of ${v.service} is not "ip:port"`,
        };
      if (!count(b.selections))
        return {
          reason: 'badCount',
          field: `${at}.backends`,
          detail: `selections ${b.selections} of ${b.backend} is no whole number up to 2^53`,
        };
    }
    for (const f of countFields)
      if (!count(v[f]))
        return { reason: 'badCount', field: `${at}.${f}`, detail: `${at}.${f} is ${v[f]}, no whole number up to 2^53` };
    if (v.clientsHll.length % 3 !== 0 || v.clientsHll.length > HLL_ENTRY_BYTES_MAX)
      return bad(
        `${at}.clientsHll`,
        `${v.clientsHll.length} bytes of sketch entries; expected a multiple of 3 up to ${HLL_ENTRY_BYTES_MAX}`,
      );
  }
  return null;
}
