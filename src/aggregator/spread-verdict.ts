// Whether a Service's new connections spread evenly over its backends: a chi-square test of
// uniform choice over independent picks, and "too few to judge" below the sample size at
// which that test can see the skew it is designed for. docs/design.md, "Spread verdicts",
// states the assumptions; test/unit/spread-verdict.test.ts checks the verdicts against
// simulated cases with known answers.
import type { ServiceRec } from './services.js';
import { chiSquareCritical, chiSquareP, noncentralChiSquareP } from './stats.js';
import type { Tally } from './tally.js';

/** Below this p-value the spread is called skewed (1%: a busy Service would otherwise flag noise often). */
const SKEW_ALPHA = 0.01;
/** The chance of calling the designed skew skewed, at the smallest sample judged. */
const DESIGN_POWER = 0.95;
/** The skew the test is designed to see: one backend picked this many times as often as each other one. */
export const DESIGN_RATIO = 2;
/** Cochran's rule for the chi-square approximation: at least 5 picks expected per backend. */
const MIN_EXPECTED = 5;
/** Raw counts named in a verdict's text at most; the JSON has them all. */
const COUNTS_SHOWN = 8;

export type SpreadVerdictName = 'uniform' | 'skewed' | 'tooFew' | 'none';
/** What was counted: every selection, or (ClientIP affinity) each client's pick once per affinity period. */
export type SpreadUnit = 'selection' | 'client';

export interface SpreadVerdict {
  verdict: SpreadVerdictName;
  unit: SpreadUnit;
  /** Independent picks counted. */
  n: number;
  /** Picks per backend, in the order of the backends given. */
  counts: number[];
  /** Chi-square p-value of the picks against uniform choice; null with fewer than two backends or no pick. */
  p: number | null;
  /** Picks needed before a spread is called uniform (minUnits); null with fewer than two backends. */
  minN: number | null;
  /** The verdict in words, as every output shows it: "too few to judge (n=3)", "uniform (412 clients on 3 pods)". */
  text: string;
}

const minCache = new Map<number, number>();

/**
 * The smallest number of independent picks over k backends at which the chi-square test at
 * SKEW_ALPHA calls the designed skew (one backend DESIGN_RATIO times as likely as each other)
 * skewed with probability DESIGN_POWER, and at least MIN_EXPECTED per backend.
 * k = 2: 161, k = 3: 166, k = 10: 408 (docs/design.md lists more).
 */
export function minUnits(k: number): number {
  const cached = minCache.get(k);
  if (cached !== undefined) return cached;
  const dof = k - 1;
  const crit = chiSquareCritical(SKEW_ALPHA, dof);
  // Cohen's effect size w^2 = sum (p1 - p0)^2 / p0 for that alternative.
  const p0 = 1 / k;
  const hot = DESIGN_RATIO / (DESIGN_RATIO + k - 1);
  const cold = 1 / (DESIGN_RATIO + k - 1);
  const w2 = ((hot - p0) ** 2 + dof * (cold - p0) ** 2) / p0;
  const power = (n: number) => noncentralChiSquareP(crit, dof, n * w2);
  let lo = 1;
  let hi = 2;
  while (power(hi) < DESIGN_POWER) hi *= 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (power(mid) >= DESIGN_POWER) hi = mid;
    else lo = mid;
  }
  const n = Math.max(hi, MIN_EXPECTED * k);
  minCache.set(k, n);
  return n;
}

/** The verdict on picks per backend (zeros included: every backend K counts). */
export function judgeSpread(counts: readonly number[], unit: SpreadUnit): SpreadVerdict {
  const k = counts.length;
  let n = 0;
  for (const c of counts) n += c;
  const base = { unit, n, counts: [...counts] };
  if (k < 2 || n === 0) return { ...base, verdict: 'none', p: null, minN: k < 2 ? null : minUnits(k), text: '-' };
  const minN = minUnits(k);
  const mean = n / k;
  let chi2 = 0;
  for (const c of counts) chi2 += ((c - mean) * (c - mean)) / mean;
  const p = chiSquareP(chi2, k - 1);
  // A small p is a valid finding below minN too (the test's error rate holds); a large one is not evidence of evenness.
  const verdict: SpreadVerdictName =
    n >= MIN_EXPECTED * k && p < SKEW_ALPHA ? 'skewed' : n >= minN ? 'uniform' : 'tooFew';
  return { ...base, verdict, p, minN, text: verdictText(verdict, unit, n, k, p, counts) };
}

/** The words before the parenthesis: what the TUI's narrow column shows. */
export function verdictHead(v: Pick<SpreadVerdict, 'verdict' | 'p'>): string {
  switch (v.verdict) {
    case 'none':
      return '-';
    case 'tooFew':
      return 'too few to judge';
    case 'uniform':
      return 'uniform';
    case 'skewed':
      return `skewed p=${pText(v.p ?? 0)}`;
  }
}

function verdictText(
  verdict: SpreadVerdictName,
  unit: SpreadUnit,
  n: number,
  k: number,
  p: number,
  counts: readonly number[],
): string {
  const what = unit === 'client' ? `${n} client${n === 1 ? '' : 's'} on ${k} pods` : `n=${n}`;
  const shown = counts.slice(0, COUNTS_SHOWN).join(' ') + (counts.length > COUNTS_SHOWN ? ' …' : '');
  return `${verdictHead({ verdict, p })} (${what}${verdict === 'tooFew' ? `: ${shown}` : ''})`;
}

/** 0.003, or 4e-11 below 0.001. */
function pText(p: number): string {
  return p < 0.001 ? p.toExponential(0) : p.toFixed(3);
}

/** A Service's verdict over `shown` backends: under ClientIP affinity its clients' picks, else its selections. */
export function serviceSpread(svc: ServiceRec, t: Tally, shown: readonly number[]): SpreadVerdict {
  const unit: SpreadUnit = svc.latest?.info.affinity.mode === 'ClientIP' ? 'client' : 'selection';
  return judgeSpread(
    shown.map((b) => t.unitsOf(b)),
    unit,
  );
}

/** A verdict that cannot be made from what was counted (summaries keep no client's picks). */
export function notJudged(unit: SpreadUnit, why: string): SpreadVerdict {
  return { verdict: 'none', unit, n: 0, counts: [], p: null, minN: null, text: `not judged (${why})` };
}
