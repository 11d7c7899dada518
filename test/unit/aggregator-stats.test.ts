// Spread statistics and the chi-square tail against published table values and
// closed forms (not against this code's own output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chiSquareP, gammaQ, logGamma, spreadOf } from '../../src/aggregator/stats.js';

const near = (actual: number | null, expected: number, tol: number) =>
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol, `expected ${expected} +- ${tol}, got ${actual}`);

test('chi-square p-values match the 0.05 and 0.01 critical values of standard tables', () => {
  const table: [number, number, number][] = [
    // [chi2, dof, p]
    [3.841, 1, 0.05],
    [6.635, 1, 0.01],
    [5.991, 2, 0.05],
    [9.21, 2, 0.01],
    [7.815, 3, 0.05],
    [11.07, 5, 0.05],
    [18.307, 10, 0.05],
    [31.41, 20, 0.05],
    [124.342, 100, 0.05],
    [0.004, 1, 0.95],
  ];
  for (const [x, dof, p] of table) near(chiSquareP(x, dof), p, 5e-4);
});

test('gammaQ matches closed forms: Q(1, x) = e^-x and Q(2, x) = (1 + x) e^-x', () => {
  for (const x of [0.001, 0.5, 1, 2.5, 3, 10, 40]) {
    near(gammaQ(1, x), Math.exp(-x), 1e-12);
    near(gammaQ(2, x), (1 + x) * Math.exp(-x), 1e-12);
  }
  assert.equal(gammaQ(3, 0), 1);
  assert.throws(() => gammaQ(0, 1), /a > 0/);
});

test('logGamma matches factorials and sqrt(pi)', () => {
  near(logGamma(5), Math.log(24), 1e-12);
  near(logGamma(11), Math.log(3628800), 1e-10);
  near(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-12);
});

test('spread of counts 6, 2, 0, 4 (hand-computed)', () => {
  // sum 12, K 4, mean 3, max 6; population variance (9+1+9+1)/4 = 5; chi2 = 20/3 on 3 dof.
  const s = spreadOf([6, 2, 0, 4]);
  near(s.maxOverMean, 2, 1e-12);
  near(s.cv, Math.sqrt(5) / 3, 1e-12);
  near(s.jain, 144 / (4 * 56), 1e-12);
  // For 3 dof, p = erfc(sqrt(x/2)) + sqrt(2x/pi) e^(-x/2) = 0.00987 + 0.07349 at x = 6.667.
  near(s.chi2P, 0.0834, 1e-3);
});

test('spread degenerate cases: no selections, and a single endpoint', () => {
  assert.deepEqual(spreadOf([0, 0, 0]), { maxOverMean: null, cv: null, jain: null, chi2P: null });
  assert.deepEqual(spreadOf([]), { maxOverMean: null, cv: null, jain: null, chi2P: null });
  assert.deepEqual(spreadOf([7]), { maxOverMean: 1, cv: 0, jain: 1, chi2P: null });
  const even = spreadOf([5, 5, 5]);
  assert.equal(even.chi2P, 1);
  assert.equal(even.jain, 1);
});
