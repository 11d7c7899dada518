// The spread's units (Tally.units, judged by spread-verdict.ts): independent picks. A pick
// (any selection but a `held` one) starts a client's affinity period and counts once in the
// cumulative tally; in the window the period's unit rides on its latest selection there
// (marked UNIT in the ring), so a client pinned before the window counts once while any of its
// selections is in it, and not after.
import type { PairTable } from './pair-table.js';
import type { ServiceRec } from './services.js';
import { UNIT, Verdict } from './tally.js';
import type { WindowRing } from './window-ring.js';

/** Counts the selection about to be pushed (pair `p`, backend `b`, verdict `code`); it takes the UNIT mark. */
export function countUnit(
  ring: WindowRing,
  pairs: PairTable,
  p: number,
  svc: ServiceRec,
  b: number,
  code: number,
): void {
  const held = (code & 7) === Verdict.held;
  if (!held) svc.cum.addUnit(b, 1);
  svc.win.addUnit(b, 1);
  const j = held ? ring.indexOf(pairs.lastSeq[p]!) : -1;
  if (j !== -1 && ring.code[j]! & UNIT) {
    ring.code[j] = ring.code[j]! & ~UNIT;
    svc.win.addUnit(b, -1);
  }
  pairs.lastSeq[p] = ring.pushed;
}

/** The ring's selection at physical index `j` leaves the window: its period's unit with it, if it carried it. */
export function unitLeaves(ring: WindowRing, j: number, svc: ServiceRec): void {
  if (ring.code[j]! & UNIT) svc.win.addUnit(ring.backend[j]!, -1);
}
