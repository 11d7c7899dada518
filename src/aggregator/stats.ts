// Spread statistics over per-backend selection counts, and the chi-square tail
// probability they need (written here: no statistics package is a dependency).

export interface Spread {
  maxOverMean: number | null;
  cv: number | null;
  jain: number | null;
  chi2P: number | null;
}

/** Below this chi-square p-value a spread is called skewed. */
const SKEW_P = 0.01;

export type SpreadVerdictName = 'uniform' | 'skewed' | 'n/a';

/** The verdict every spread gets (new connections, open connections, bytes): skewed below SKEW_P. */
export function spreadVerdict(s: Pick<Spread, 'chi2P'>): SpreadVerdictName {
  return s.chi2P === null ? 'n/a' : s.chi2P < SKEW_P ? 'skewed' : 'uniform';
}

/**
 * Spread of counts c_1..c_K. Undefined values are null (JSON has no NaN): everything
 * when no selection was made, chi2P when K = 1 (a test with 0 degrees of freedom).
 */
export function spreadOf(counts: readonly number[]): Spread {
  const k = counts.length;
  let sum = 0;
  let sumSq = 0;
  let max = 0;
  for (const c of counts) {
    sum += c;
    sumSq += c * c;
    if (c > max) max = c;
  }
  if (k === 0 || sum === 0) return { maxOverMean: null, cv: null, jain: null, chi2P: null };
  const mean = sum / k;
  const variance = Math.max(0, sumSq / k - mean * mean);
  let chi2 = 0;
  for (const c of counts) chi2 += ((c - mean) * (c - mean)) / mean;
  return {
    maxOverMean: max / mean,
    cv: Math.sqrt(variance) / mean,
    jain: (sum * sum) / (k * sumSq),
    chi2P: k > 1 ? chiSquareP(chi2, k - 1) : null,
  };
}

/** P(X >= chi2) for X ~ chi-square with `dof` degrees of freedom. */
export function chiSquareP(chi2: number, dof: number): number {
  return gammaQ(dof / 2, chi2 / 2);
}

const EPS = 1e-15;
const TINY = 1e-300;
const MAX_ITER = 10_000;

/** Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), a > 0, x >= 0. */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0))
    throw new RangeError(`failed to evaluate gammaQ: expected a > 0 and x >= 0, got a=${a}, x=${x}`);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  // The series converges fast below a+1, the continued fraction above it.
  return x < a + 1 ? 1 - lowerSeries(a, x) : upperFraction(a, x);
}

/** exp(-x) x^a / Gamma(a), the common prefactor of both expansions. */
function prefactor(a: number, x: number): number {
  return Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** P(a, x) = e^-x x^a / Gamma(a) * sum_n x^n / (a (a+1) ... (a+n)). */
function lowerSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITER; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return Math.min(1, sum * prefactor(a, x));
}

/** Q(a, x) by the Legendre continued fraction, evaluated with the modified Lentz method. */
function upperFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.max(0, Math.min(1, h * prefactor(a, x)));
}

// Lanczos approximation, g = 7, nine terms (about 15 significant digits for a > 0).
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(z) for z > 0. */
export function logGamma(z: number): number {
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  const zz = z - 1;
  let s = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (zz + i);
  const t = zz + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (zz + 0.5) * Math.log(t) - t + Math.log(s);
}

/** The chi-square value whose upper tail with `dof` degrees of freedom is `alpha` (bisection on chiSquareP). */
export function chiSquareCritical(alpha: number, dof: number): number {
  let lo = 0;
  let hi = dof + 20 * Math.sqrt(2 * dof) + 50;
  while (chiSquareP(hi, dof) > alpha) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (chiSquareP(mid, dof) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * P(X > x) for X noncentral chi-square (`dof` degrees of freedom, noncentrality `lambda`): the
 * Poisson(lambda/2) mixture of central chi-squares with dof + 2j degrees of freedom, summed
 * outwards from the Poisson mode until the weights left are negligible.
 */
export function noncentralChiSquareP(x: number, dof: number, lambda: number): number {
  const h = lambda / 2;
  if (h === 0) return chiSquareP(x, dof);
  const mode = Math.floor(h);
  const weight = (j: number) => Math.exp(-h + j * Math.log(h) - logGamma(j + 1));
  let sum = 0;
  let mass = 0;
  for (let j = mode; ; j++) {
    const w = weight(j);
    sum += w * gammaQ(dof / 2 + j, x / 2);
    mass += w;
    if (w < 1e-14 && j > mode + 10) break;
  }
  for (let j = mode - 1; j >= 0; j--) {
    const w = weight(j);
    sum += w * gammaQ(dof / 2 + j, x / 2);
    mass += w;
    if (w < 1e-14) break;
  }
  return Math.min(1, sum / mass);
}
