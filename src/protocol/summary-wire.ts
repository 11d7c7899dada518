// Conversion between NodeSummary (src/core/summary.ts) and the Summary message of
// SubscribeSummaries. Summaries are few (one per node per period), so the generated codec
// does; the events they carry go as an EventBatch through the fast one.
import type { NodeSummary, ViolationRecord } from '../core/summary.js';
import { stickyscope } from './generated/stickyscope.js';
import { decodeBatch, encodeBatch } from './wire.js';

const { Summary, SummaryRequest } = stickyscope.v1;

type Uint64 = number | { toNumber(): number } | null | undefined;
const num = (v: Uint64): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());
const CAUSES = new Set(['listFull', 'setFull', 'crossFrontend', 'unknown']);
/** A sketch's entries at most: 3 bytes for each of its 2^10 registers. */
export const HLL_ENTRY_BYTES_MAX = 3 * 1024;

export function encodeSummary(s: NodeSummary): Uint8Array {
  return Summary.encode({
    node: s.node,
    start: s.start,
    end: s.end,
    services: s.services.map((v) => ({ ...v, clientsHll: v.clientsHll })),
    violations: s.violations,
    events: s.events.length > 0 ? encodeBatch(s.events) : new Uint8Array(0),
  }).finish();
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
      backends: (v.backends ?? []).map((b) => ({ backend: b.backend ?? '', selections: num(b.selections) })),
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
  };
}

export function encodeSummaryRequest(): Uint8Array {
  return SummaryRequest.encode({}).finish();
}

export function decodeSummaryRequest(bytes: Uint8Array): Record<string, never> {
  SummaryRequest.decode(bytes);
  return {};
}
