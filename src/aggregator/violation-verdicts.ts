// The verdict of a re-pick under ClientIP affinity, for the reducer (state.ts): held, expired or a violation; a
// violation waits for its node's next rules read (pending-verdicts.ts) and for late evictions that explain it
// (violation-causes.ts), and is recoded wherever it was counted once that is known.
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from '../core/event.js';
import type { ViolationNotable } from './notable.js';
import type { ServiceRec } from './services.js';
import type { AggregatorState } from './state.js';
import { isViolation, SAME, UNIT, Verdict } from './tally.js';
import type { OpenViolation, ViolationCause } from './violation-causes.js';

/** The verdict code of a violation of each cause. */
const codeOfCause: Record<ViolationCause, number> = {
  listFull: Verdict.violationListFull,
  setFull: Verdict.violationSetFull,
  crossFrontend: Verdict.violationCrossFrontend,
  unknown: Verdict.violationUnknown,
};

/** The verdict code of the pair closed by selecting backend `b` now. */
export function verdictOf(
  state: AggregatorState,
  p: number,
  svc: ServiceRec,
  node: number,
  client: number,
  b: number,
  ts: number,
): number {
  const pairs = state.pairs;
  const last = pairs.lastBackend[p]!;
  const same = last === b ? SAME : 0;
  const view = svc.view(node);
  const affinity = view?.info.affinity;
  if (!view || affinity?.mode !== 'ClientIP') return Verdict.noAffinity | same;
  const gap = ts - pairs.lastTs[p]!;
  if (gap > (affinity.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS) * 1e6) return Verdict.expired | same;
  if (same) return Verdict.held | SAME;
  const lastName = svc.backendNames[last]!;
  if (!view.endpoints.has(lastName)) return Verdict.forcedRepick;
  const v: OpenViolation = {
    node,
    svc: svc.id,
    client,
    from: lastName,
    to: svc.backendNames[b]!,
    prevTs: pairs.lastTs[p]!,
    ts,
    seq: state.ring.pushed,
    ...(pairs.lastFrontend[p] !== state.services.lastFrontend ? { otherFrontend: true as const } : {}),
  };
  if (state.pending.mustWait(node, ts)) {
    state.pending.hold(v);
    if (state.keepNotable) v.note = { event: violationNotable(state, v, 'pending'), drain: state.notable.drains };
    return Verdict.pending;
  }
  return judge(state, v);
}

/**
 * The code of a violation `v` by the rules known now: forcedRepick if they no longer list the backend it left,
 * else a violation with its cause (open causes wait in `causes`), its notable pushed or revised.
 */
function judge(state: AggregatorState, v: OpenViolation): number {
  const view = state.services.list[v.svc]!.view(v.node);
  if (v.gone || !view?.endpoints.has(v.from)) return Verdict.forcedRepick;
  const cause = v.otherFrontend ? 'crossFrontend' : state.causes.violation(v);
  if (state.keepNotable) {
    if (v.note) revise(state, v.note, { cause });
    else v.note = { event: violationNotable(state, v, cause), drain: state.notable.drains };
  }
  return codeOfCause[cause];
}

/** A pending re-pick, now that its node's rules at or after it are known: recoded wherever it was counted. */
export function judgePending(state: AggregatorState, v: OpenViolation): void {
  const to = judge(state, v);
  if (to === Verdict.forcedRepick && v.note && state.keepNotable) revise(state, v.note, { verdict: 'forcedRepick' });
  const svc = state.services.list[v.svc]!;
  const b = svc.backendOf(v.to);
  svc.cum.recode(b, Verdict.pending, to);
  const j = state.ring.indexOf(v.seq);
  // The ring's code keeps its UNIT bit (spread-units.ts): only the verdict changes.
  if (j !== -1 && (state.ring.code[j]! & ~UNIT) === Verdict.pending) {
    state.ring.code[j] = to | (state.ring.code[j]! & UNIT);
    svc.win.recode(b, Verdict.pending, to);
  }
  const pairs = state.pairs;
  const p = pairs.find(v.node, v.svc, v.client);
  if (p === -1) return;
  if (isViolation(to)) pairs.violations[p]!++;
  if (pairs.switchTs[p] === v.ts && pairs.switchCode[p] === Verdict.pending) pairs.switchCode[p] = to;
}

/** Corrects a violation's notable in place while still queued, else announces it again, marked revised. */
function revise(
  state: AggregatorState,
  note: NonNullable<OpenViolation['note']>,
  change: Partial<ViolationNotable>,
): void {
  if (note.drain === state.notable.drains) Object.assign(note.event, change);
  else state.notable.push({ ...note.event, ...change, revised: true });
}

/**
 * A violation left open is settled. One an eviction explains becomes `listFull` in the
 * tallies, the window, its pair and its notable event: corrected in place while still
 * queued, else announced again, marked revised.
 */
export function causeSettled(state: AggregatorState, v: OpenViolation, cause: ViolationCause): void {
  if (cause === 'unknown' || cause === 'crossFrontend') return;
  const code = codeOfCause[cause];
  if (v.note) revise(state, v.note, { cause });
  const svc = state.services.list[v.svc]!;
  svc.cum.settle(cause);
  const j = state.ring.indexOf(v.seq);
  if (j !== -1 && (state.ring.code[j]! & ~UNIT) === Verdict.violationUnknown) {
    state.ring.code[j] = code | (state.ring.code[j]! & UNIT);
    svc.win.settle(cause);
  }
  const pairs = state.pairs;
  const p = pairs.find(v.node, v.svc, v.client);
  if (p !== -1 && pairs.switchTs[p] === v.ts && pairs.switchCode[p] === Verdict.violationUnknown)
    pairs.switchCode[p] = code;
}

function violationNotable(
  state: AggregatorState,
  v: OpenViolation,
  cause: ViolationNotable['cause'],
): ViolationNotable {
  const event: ViolationNotable = {
    kind: 'violation',
    ts: v.ts,
    node: state.roster.names[v.node]!,
    service: state.services.list[v.svc]!.key,
    client: state.clients.name(v.client),
    from: v.from,
    to: v.to,
    gapSeconds: (v.ts - v.prevTs) / 1e6,
    cause,
  };
  state.notable.push(event);
  return event;
}
