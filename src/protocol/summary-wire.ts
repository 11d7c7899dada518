// The Summary message of SubscribeSummaries, between the producer and the consumer
// (src/summary/): its wire form, and the check where it enters. Summaries are few (one per
// node per period), so the generated codec does; the events they carry go as an
// EventBatch through the fast one.
//
// The check (as validate.ts checks events): a Service key that is not "ip:port/proto", a
// backend that is not "ip:port", a count that is no whole number a double holds exactly,
// or a sketch entry list of the wrong size would otherwise reach every scrape of /metrics.
// A summary with any of them is dropped whole and counted.
import { countFields, type BackendCounts, type NodeSummary, type ViolationRecord } from '../core/summary.js';
import { stickyscope } from './generated/stickyscope.js';
import { isHostPort, type Rejection } from './validate.js';
import { decodeBatch, encodeBatch } from './wire.js';

const { Summary, SummaryRequest } = stickyscope.v1;

type Uint64 = number | { toNumber(): number } | null | undefined;
const num = (v: Uint64): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());
const CAUSES = new Set(['listFull', 'setFull', 'crossFrontend', 'unknown']);
/** A sketch's entries at most: 3 bytes for each of its 2^10 registers. */
const HLL_ENTRY_BYTES_MAX = 3 * 1024;

const LIVE_BYTES = { unknown: 0, counted: 1, notCounted: 2 } as const;

export function encodeSummary(s: NodeSummary): Uint8Array {
  return Summary.encode({
    node: s.node,
    start: s.start,
    end: s.end,
    services: s.services.map((v) => ({
      ...v,
      backends: v.backends.map((b) => ({ ...b, liveConnections: b.live })),
      clientsHll: v.clientsHll,
    })),
    violations: s.violations,
    events: s.events.length > 0 ? encodeBatch(s.events) : new Uint8Array(0),
    live: s.live !== undefined,
    liveBytes: s.live?.bytes == null ? LIVE_BYTES.unknown : s.live.bytes ? LIVE_BYTES.counted : LIVE_BYTES.notCounted,
    epoch: s.epoch ?? 0,
  }).finish();
}

/** A backend's counts; live connections and bytes only from a node that reads conntrack (older agents never do). */
function backendOf(b: stickyscope.v1.IBackendSelections, live: boolean): BackendCounts {
  const out: BackendCounts = { backend: b.backend ?? '', selections: num(b.selections) };
  if (live) {
    out.live = num(b.liveConnections);
    out.bytes = num(b.bytes);
  }
  return out;
}

/** Throws, saying what is wrong, on bytes that are no Summary. */
export function decodeSummary(bytes: Uint8Array): NodeSummary {
  let m: stickyscope.v1.Summary;
  try {
    m = Summary.decode(bytes);
  } catch (err) {
    throw new Error(`failed to decode a summary of ${bytes.length} bytes: ${(err as Error).message}`);
  }
  const violations = m.violations.map((v): ViolationRecord => {
    const cause = v.cause ?? '';
    if (!CAUSES.has(cause))
      throw new Error(
        `failed to decode a summary: violation cause '${cause}' is not listFull, setFull, crossFrontend or unknown`,
      );
    return {
      ts: v.ts ?? 0,
      service: v.service ?? '',
      client: v.client ?? '',
      from: v.from ?? '',
      to: v.to ?? '',
      gapSeconds: v.gapSeconds ?? 0,
      cause: cause as ViolationRecord['cause'],
    };
  });
  return {
    node: m.node,
    start: m.start,
    end: m.end,
    services: m.services.map((v) => ({
      service: v.service ?? '',
      backends: (v.backends ?? []).map((b) => backendOf(b, m.live)),
      pairs: num(v.pairs),
      sameBackend: num(v.sameBackend),
      held: num(v.held),
      violations: num(v.violations),
      forcedRepick: num(v.forcedRepick),
      expired: num(v.expired),
      expiredMoved: num(v.expiredMoved),
      listFull: num(v.listFull),
      setFull: num(v.setFull),
      crossFrontend: num(v.crossFrontend),
      unknown: num(v.unknown),
      udpReplacements: num(v.udpReplacements),
      udpBackendChanged: num(v.udpBackendChanged),
      udpReflectiveChanged: num(v.udpReflectiveChanged),
      clientsHll: v.clientsHll ?? new Uint8Array(0),
    })),
    violations,
    events: m.events.length > 0 ? decodeBatch(m.events) : [],
    ...(m.live
      ? {
          live: {
            bytes: m.liveBytes === LIVE_BYTES.counted ? true : m.liveBytes === LIVE_BYTES.notCounted ? false : null,
          },
        }
      : {}),
    ...(m.epoch > 0 ? { epoch: m.epoch } : {}),
  };
}

export function encodeSummaryRequest(): Uint8Array {
  return SummaryRequest.encode({}).finish();
}

export function decodeSummaryRequest(bytes: Uint8Array): Record<string, never> {
  SummaryRequest.decode(bytes);
  return {};
}

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
      for (const f of ['selections', 'live', 'bytes'] as const)
        if (b[f] !== undefined && !count(b[f]))
          return {
            reason: 'badCount',
            field: `${at}.backends`,
            detail: `${f} ${b[f]} of ${b.backend} is no whole number up to 2^53`,
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
