// Spread verdicts against simulated cases whose answer is known: selections drawn here with a
// fixed seed, uniformly or with a skew, with and without ClientIP affinity, fed through the
// aggregator, and the report's verdict compared with the truth of the draw. Each case must be
// right in at least 95% of its trials: the designed power (docs/design.md, "Spread verdicts").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { DESIGN_RATIO, judgeSpread, minUnits, type SpreadVerdictName } from '../../src/aggregator/spread-verdict.js';
import { chiSquareCritical, noncentralChiSquareP } from '../../src/aggregator/stats.js';

const T0 = Date.UTC(2026, 11, 7, 11, 0, 0) * 1000;
const SVC = '10.96.0.20:80';

/** mulberry32: a small seeded generator, so every run draws the same cases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A backend index drawn with the given weights. */
function draw(random: () => number, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let x = random() * total;
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i]!;
    if (x < 0) return i;
  }
  return weights.length - 1;
}

interface Case {
  name: string;
  weights: number[];
  /** Clients, each pinned (ClientIP) to its first pick for `perClient` selections; without affinity one selection each. */
  clients: number;
  perClient: number;
  affinity: boolean;
  expect: SpreadVerdictName;
  trials: number;
  /**
   * The designed skew at minN, where the designed power (0.95) is what the test promises, so about 95% of trials
   * are right: the rate must not fall below 0.95 by more than chance (one-sided 99% binomial bound).
   */
  atDesignedPower?: boolean;
}

const backend = (i: number) => `10.1.${i + 1}.2:8080`;

/** One trial's events: a catalog, then the selections, clients interleaved as real traffic is. */
function trialEvents(c: Case, random: () => number): StickyEvent[] {
  const k = c.weights.length;
  const events: StickyEvent[] = [
    {
      type: 'catalog',
      ts: T0,
      node: 'n1',
      services: [
        {
          service: `${SVC}/tcp`,
          name: 'lab/sim:http',
          affinity: c.affinity
            ? { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' }
            : { mode: 'None', timeoutSeconds: null, source: 'rules' },
          endpoints: Array.from({ length: k }, (_, i) => backend(i)),
        },
      ],
    },
  ];
  const pinned = Array.from({ length: c.clients }, () => draw(random, c.weights));
  let ts = T0 + 1000;
  for (let round = 0; round < c.perClient; round++) {
    for (let i = 0; i < c.clients; i++) {
      // Under affinity the node keeps the client's pick; without it every selection is a new draw.
      const b = c.affinity ? pinned[i]! : draw(random, c.weights);
      events.push({
        type: 'dnat',
        ts: ts++,
        node: 'n1',
        proto: 'tcp',
        client: `10.0.${i >> 8}.${i & 255}:${20000 + round}`,
        service: SVC,
        backend: backend(b),
        hook: 'prerouting',
        ctId: `${i}-${round}`,
      });
    }
  }
  return events;
}

const hot = (k: number) => [DESIGN_RATIO, ...Array.from({ length: k - 1 }, () => 1)];
const even = (k: number) => Array.from({ length: k }, () => 1);

const CASES: Case[] = [
  {
    name: 'uniform, 3 pods, minN selections',
    weights: even(3),
    clients: minUnits(3),
    perClient: 1,
    affinity: false,
    expect: 'uniform',
    trials: 400,
  },
  {
    name: 'uniform, 10 pods, minN selections',
    weights: even(10),
    clients: minUnits(10),
    perClient: 1,
    affinity: false,
    expect: 'uniform',
    trials: 200,
  },
  {
    name: 'designed skew (2:1:1), minN selections',
    weights: hot(3),
    clients: minUnits(3),
    perClient: 1,
    affinity: false,
    expect: 'skewed',
    trials: 1000,
    atDesignedPower: true,
  },
  {
    name: 'designed skew (2:1), 2 pods, minN selections',
    weights: hot(2),
    clients: minUnits(2),
    perClient: 1,
    affinity: false,
    expect: 'skewed',
    trials: 1000,
    atDesignedPower: true,
  },
  {
    name: 'strong skew (4:1:1), 4 x minN selections',
    weights: [4, 1, 1],
    clients: 4 * minUnits(3),
    perClient: 1,
    affinity: false,
    expect: 'skewed',
    trials: 100,
  },
  {
    name: 'affinity: 4 clients on 3 pods, 144 selections each',
    weights: even(3),
    clients: 4,
    perClient: 144,
    affinity: true,
    expect: 'tooFew',
    trials: 200,
  },
  {
    name: 'affinity: uniform picks, minN clients x 10 selections',
    weights: even(3),
    clients: minUnits(3),
    perClient: 10,
    affinity: true,
    expect: 'uniform',
    trials: 200,
  },
  {
    name: 'affinity: designed skew, minN clients x 10 selections',
    weights: hot(3),
    clients: minUnits(3),
    perClient: 10,
    affinity: true,
    expect: 'skewed',
    trials: 500,
    atDesignedPower: true,
  },
  {
    name: 'small: 3 selections, uniform draw',
    weights: even(3),
    clients: 3,
    perClient: 1,
    affinity: false,
    expect: 'tooFew',
    trials: 200,
  },
  {
    name: 'small: 9 selections, all on one pod',
    weights: [1, 0, 0],
    clients: 9,
    perClient: 1,
    affinity: false,
    expect: 'tooFew',
    trials: 50,
  },
  {
    name: 'small: 5 selections, 2 pods',
    weights: even(2),
    clients: 5,
    perClient: 1,
    affinity: false,
    expect: 'tooFew',
    trials: 200,
  },
  {
    name: 'below minN: 100 selections, 3 pods, uniform',
    weights: even(3),
    clients: 100,
    perClient: 1,
    affinity: false,
    expect: 'tooFew',
    trials: 200,
  },
];

test('spread verdicts on simulated cases with known answers are right in >= 95% of trials (at the designed power: 95% within chance)', () => {
  const random = rng(20261207);
  const rows: string[] = [];
  for (const c of CASES) {
    const got = new Map<string, number>();
    let selectionsSkewed = 0;
    for (let trial = 0; trial < c.trials; trial++) {
      const state = createState({ notable: false });
      applyEvents(state, trialEvents(c, random));
      const s = buildReport(state, { scope: 'cumulative' }).services[0]!;
      const v = s.spreadVerdict;
      got.set(v.verdict, (got.get(v.verdict) ?? 0) + 1);
      if ((s.spread.chi2P ?? 1) < 0.01) selectionsSkewed++;
      assert.equal(v.unit, c.affinity ? 'client' : 'selection');
      assert.equal(v.n, c.affinity ? c.clients : c.clients * c.perClient, `${c.name}: one unit per client's pick`);
      if (v.verdict === 'tooFew')
        assert.match(v.text, c.affinity ? / clients on 3 pods: / : /^too few to judge \(n=\d+: /);
    }
    const right = (got.get(c.expect) ?? 0) / c.trials;
    const floor = c.atDesignedPower ? 0.95 - 2.33 * Math.sqrt((0.95 * 0.05) / c.trials) : 0.95;
    rows.push(
      `${c.name}: ${c.expect} ${(right * 100).toFixed(1)}% ${JSON.stringify(Object.fromEntries(got))}; selections' p < 0.01 in ${selectionsSkewed}`,
    );
    assert.ok(
      right >= floor,
      `${c.name}: ${c.expect} in ${(right * 100).toFixed(1)}% of ${c.trials} trials (${JSON.stringify(Object.fromEntries(got))})`,
    );
    if (c.name.startsWith('affinity: 4 clients'))
      assert.equal(
        selectionsSkewed,
        c.trials,
        "the selections' own chi-square calls every one of these skewed: what the verdict must not show",
      );
  }
  console.log(rows.join('\n'));
});

test('minUnits: the designed power is reached at minN and not one pick before', () => {
  for (const k of [2, 3, 5, 10, 40]) {
    const n = minUnits(k);
    const dof = k - 1;
    const crit = chiSquareCritical(0.01, dof);
    const p0 = 1 / k;
    const w2 = ((2 / (k + 1) - p0) ** 2 + dof * (1 / (k + 1) - p0) ** 2) / p0;
    assert.ok(noncentralChiSquareP(crit, dof, n * w2) >= 0.95, `k=${k}: power at ${n}`);
    if (n > 5 * k) assert.ok(noncentralChiSquareP(crit, dof, (n - 1) * w2) < 0.95, `k=${k}: power below ${n}`);
  }
  // Hand-computed: K = 2 is a two-sided z-test, n = ((z_0.995 + z_0.95) / (2 sqrt(w2)))^2 with w2 = 1/9: 160.3.
  assert.equal(minUnits(2), 161);
});

test('under affinity the window counts a client pinned before it once, at its backend', () => {
  const state = createState({ windowSeconds: 60, notable: false });
  const S = 1e6;
  const ev = (ts: number, client: string, b: number): StickyEvent => ({
    type: 'dnat',
    ts,
    node: 'n1',
    proto: 'tcp',
    client: `${client}:${ts % 60000}`,
    service: SVC,
    backend: backend(b),
    hook: 'prerouting',
    ctId: `${ts}`,
  });
  applyEvents(state, [
    {
      type: 'catalog',
      ts: T0,
      node: 'n1',
      services: [
        {
          service: `${SVC}/tcp`,
          name: 'lab/sim:http',
          affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' },
          endpoints: [backend(0), backend(1)],
        },
      ],
    },
    ev(T0 + S, '10.0.0.1', 0), // picked long before the window
    ev(T0 + 100 * S, '10.0.0.1', 0),
    ev(T0 + 110 * S, '10.0.0.1', 0),
    ev(T0 + 120 * S, '10.0.0.2', 1),
    ev(T0 + 130 * S, '10.0.0.2', 1),
  ]);
  const win = buildReport(state, { scope: 'window' }).services[0]!.spreadVerdict;
  assert.deepEqual(win.counts, [1, 1], 'each client once in the window');
  assert.equal(win.text, 'too few to judge (2 clients on 2 pods: 1 1)');
  const cum = buildReport(state, { scope: 'cumulative' }).services[0]!.spreadVerdict;
  assert.deepEqual(cum.counts, [1, 1]);
  // Once every selection of client 1 has left the window, it no longer counts there.
  applyEvents(state, [ev(T0 + 175 * S, '10.0.0.2', 1)]);
  assert.deepEqual(buildReport(state, { scope: 'window' }).services[0]!.spreadVerdict.counts, [0, 1]);
});

test('judgeSpread: no backend or one, and the wording of each verdict', () => {
  assert.equal(judgeSpread([], 'selection').verdict, 'none');
  assert.equal(judgeSpread([7], 'selection').text, '-');
  assert.equal(judgeSpread([3, 0, 0], 'selection').text, 'too few to judge (n=3: 3 0 0)');
  assert.equal(judgeSpread([2, 2, 0], 'client').text, 'too few to judge (4 clients on 3 pods: 2 2 0)');
  assert.equal(judgeSpread([100, 100], 'selection').text, 'uniform (n=200)');
  assert.match(judgeSpread([300, 100], 'client').text, /^skewed p=\de-\d+ \(400 clients on 2 pods\)$/);
});
