// What one selection adds to a service's counters, encoded in one byte so the window
// ring can take it back out when the selection leaves the window.

/** Low three bits: the verdict of the pair this selection closes. */
export const Verdict = {
  /** First selection of its (node, service, client): no pair. */
  first: 0,
  /** A pair on a service without affinity. */
  noAffinity: 1,
  held: 2,
  violationListFull: 3,
  violationUnknown: 4,
  forcedRepick: 5,
  expired: 6,
  /** A violation after a pick a full nftables affinity set did not pin. */
  violationSetFull: 7,
} as const;
/** Bit set when the selection picked the same backend as the previous one. */
export const SAME = 8;
/**
 * Window ring only: bit set on the latest selection in the window of its client's affinity
 * period (the pick and the held selections after it), which carries the period's unit.
 */
export const UNIT = 16;

/** Whether a verdict code is a violation, whatever its cause. */
export function isViolation(code: number): boolean {
  const v = code & 7;
  return v === Verdict.violationListFull || v === Verdict.violationUnknown || v === Verdict.violationSetFull;
}

export type VerdictName = 'held' | 'violation' | 'forcedRepick' | 'expired';

export function verdictName(code: number): VerdictName | null {
  switch (code & 7) {
    case Verdict.held:
      return 'held';
    case Verdict.violationListFull:
    case Verdict.violationUnknown:
    case Verdict.violationSetFull:
      return 'violation';
    case Verdict.forcedRepick:
      return 'forcedRepick';
    case Verdict.expired:
      return 'expired';
    default:
      return null;
  }
}

/** Per-service counters over some span (a window or everything). */
export class Tally {
  selections = 0;
  /** Selections by the service's local backend index. */
  backend: number[] = [];
  pairs = 0;
  same = 0;
  held = 0;
  listFull = 0;
  setFull = 0;
  unknown = 0;
  forcedRepick = 0;
  expired = 0;
  /** Expired pairs that moved to another backend. */
  expiredMoved = 0;
  /**
   * Independent picks by backend: the spread's units (spread-verdict.ts). Every selection but a
   * `held` one is a pick of its own; held ones repeat their period's pick. In a window, a
   * period counts once if any of its selections lies there.
   */
  units: number[] = [];

  /** Adds (d = 1) or removes (d = -1) one selection. */
  add(backend: number, code: number, d: number): void {
    this.selections += d;
    const b = this.backend;
    while (b.length <= backend) b.push(0);
    b[backend]! += d;
    const v = code & 7;
    if (v === Verdict.first) return;
    this.pairs += d;
    if (code & SAME) this.same += d;
    switch (v) {
      case Verdict.held:
        this.held += d;
        break;
      case Verdict.violationListFull:
        this.listFull += d;
        break;
      case Verdict.violationUnknown:
        this.unknown += d;
        break;
      case Verdict.violationSetFull:
        this.setFull += d;
        break;
      case Verdict.forcedRepick:
        this.forcedRepick += d;
        break;
      case Verdict.expired:
        this.expired += d;
        if (!(code & SAME)) this.expiredMoved += d;
        break;
    }
  }

  /** A violation counted `unknown` turned out to have a known cause. */
  settle(cause: 'listFull' | 'setFull'): void {
    this.unknown--;
    this[cause]++;
  }

  countOf(backend: number): number {
    return this.backend[backend] ?? 0;
  }

  addUnit(backend: number, d: number): void {
    const u = this.units;
    while (u.length <= backend) u.push(0);
    u[backend]! += d;
  }

  unitsOf(backend: number): number {
    return this.units[backend] ?? 0;
  }
}
