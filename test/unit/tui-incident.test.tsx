// What an SRE needs from the TUI during an incident (issue 27): stale rows that look stale when their node goes down,
// a clock and rates that do not freeze with a dead feed, a help that explains every column, and an 80x24 list that
// keeps the name and the verdicts whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import stringWidth from 'string-width';
import type { NodeEvent, StickyEvent } from '../../src/core/event.js';
import { createState } from '../../src/aggregator/state.js';
import { AggregatorFrameSource } from '../../src/tui/aggregator-source.js';
import { synthesize, type SyntheticService } from '../helpers/tui-events.js';
import { fixedSource, model, plain, row } from '../helpers/tui-models.js';
import { NotYet, screenHolds, waitFor } from '../helpers/wait.js';

process.env.FORCE_COLOR = '1';
const { App } = await import('../../src/tui/app.js');
const { renderAt } = await import('../helpers/ink-terminal.js');

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const sticky: SyntheticService = {
  address: '10.96.0.10:80',
  name: 'lab/sticky:http',
  endpoints: ['10.1.1.2:8080', '10.1.1.3:8080', '10.1.1.4:8080'],
  timeoutSeconds: 30,
};
const web: SyntheticService = {
  address: '10.96.0.11:80',
  name: 'lab/web:http',
  endpoints: ['10.1.2.2:8080', '10.1.2.3:8080'],
  timeoutSeconds: null,
};

/** lab/sticky fed by node-a only, lab/web by node-b only, 10 s of each from `start`; node-a goes down at +10.5 s. */
function twoNodes(start: number): { events: StickyEvent[]; down: number } {
  const a = synthesize([sticky], {
    durationSeconds: 10,
    selectionsPerSecond: 50,
    clients: 10,
    seed: 1,
    node: 'node-a',
    start,
  });
  const b = synthesize([web], {
    durationSeconds: 10,
    selectionsPerSecond: 50,
    clients: 10,
    seed: 2,
    node: 'node-b',
    start,
  });
  const down: NodeEvent = { type: 'node', ts: start + 10_500_000, node: 'node-a', state: 'down', reason: 'killed' };
  return { events: [...a.events, ...b.events].sort((x, y) => x.ts - y.ts).concat(down), down: down.ts };
}

const lineOf = (screen: string, text: string) => screen.split('\n').find((l) => plain(l).includes(text)) ?? '';

test('rows fed only by a node that went down are dimmed and say since when, without their rates', async (t) => {
  const { events } = twoNodes(T0);
  const source = new AggregatorFrameSource(createState({ windowSeconds: 60 }), 'synthetic');
  source.push(events);
  const term = renderAt(<App source={source} fps={50} />, { columns: 160, rows: 30 });
  t.after(() => term.unmount());
  await waitFor(
    'both rows',
    screenHolds(term.frame, (s) => s.includes('lab/sticky:http') && s.includes('lab/web:http')),
    3000,
  );
  const stale = lineOf(term.frame(), 'lab/sticky:http');
  const live = lineOf(term.frame(), 'lab/web:http');
  assert.match(plain(stale), /no data since 12:00:10\b/, `the stale row says since when: '${plain(stale)}'`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
  assert.match(stale, /\x1b\[2m/, 'the stale row is dimmed');
  assert.doesNotMatch(plain(stale), /█/, 'no share bars on the stale row');
  assert.doesNotMatch(plain(live), /no data since/, 'the row of the node still up is not stale');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
  assert.doesNotMatch(live.split('lab/web:http')[0]!, /\x1b\[2m/, 'nor dimmed');
  assert.match(plain(live), /lab\/web:http\s+none\s+\d+(\.\d)?\s+[█▏▎▍▌▋▊▉ ]+│/, 'it keeps its rate and bars');

  term.type('\r');
  await waitFor(
    'the stale detail',
    screenHolds(term.frame, (s) => s.includes('LAST SWITCH')),
    3000,
  );
  assert.match(plain(term.frame()), /no data since 12:00:10: node-a down/, 'the detail says it too, and which node');
});

test('live: the clock runs on and rates fall when the events stop coming', async (t) => {
  // Events that ended a moment ago, stamped in wall-clock time as an agent stamps them.
  const start = Date.now() * 1000 - 9_000_000;
  const { events } = synthesize([web], { durationSeconds: 8, selectionsPerSecond: 20, clients: 5, seed: 4, start });
  const source = new AggregatorFrameSource(createState({ windowSeconds: 60 }), 'agents', { runningClock: true });
  source.push(events);
  const last = events.at(-1)!.ts;
  const term = renderAt(<App source={source} fps={20} />, { columns: 160, rows: 30 });
  t.after(() => term.unmount());
  const clockShown = () => /window 1m {2}(\d\d):(\d\d):(\d\d)/.exec(plain(term.frame()));
  const seconds = (m: RegExpExecArray) => Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  const lastSecond = Math.floor((last / 1e6) % 86400);
  await waitFor(
    'the clock to pass the latest event by 2 s',
    () => {
      const m = clockShown();
      return m && seconds(m) >= lastSecond + 2
        ? true
        : new NotYet(plain(term.frame()), `a clock past ${lastSecond + 2}`);
    },
    6000,
  );
  await waitFor(
    'the rate of lab/web to fall to 0 with no events for 5 s',
    screenHolds(term.frame, (s) => /lab\/web:http\s+none\s+0\.0\s/.test(plain(s))),
    8000,
  );
});

test('the help has one line for each column, and SEL/S counts new connections, not requests', async (t) => {
  const size = { columns: 80, rows: 24 };
  const term = renderAt(<App source={fixedSource(model([row('web')]))} fps={50} />, size);
  t.after(() => term.unmount());
  await waitFor(
    'the row',
    screenHolds(term.frame, (s) => s.includes('web')),
    2000,
  );
  term.type('?');
  await waitFor(
    'the help',
    screenHolds(term.frame, (s) => s.includes('Columns')),
    2000,
  );
  const lines = plain(term.frame()).replace(/\n$/, '').split('\n');
  assert.ok(lines.length <= size.rows - 1, `the help fits ${size.rows} lines: ${lines.length}`);
  for (const column of ['SEL/S', 'LIVE', 'MAX/M', 'SPREAD', 'STICKY', 'VIOL', 'NODES']) {
    const found = lines.filter((l) => l.startsWith(`${column} `));
    assert.equal(found.length, 1, `one line for ${column}:\n${lines.join('\n')}`);
    assert.ok(!found[0]!.includes('…') && stringWidth(found[0]!) <= size.columns, `'${found[0]}' whole at 80`);
  }
  const sel = lines.find((l) => l.startsWith('SEL/S '))!;
  assert.match(sel, /new connections/);
  assert.match(sel, /not requests/);
});

test('at 80x24 the list keeps the name, SEL/S, SPREAD, STICKY and VIOL whole', async (t) => {
  const size = { columns: 80, rows: 24 };
  const names = ['lab/sticky:http', 'lab/web:http', 'kube-system/kube-dns:dns-tcp'];
  const rows = names.map((n, i) =>
    row(n, {
      selectionsPerSecond: 1234,
      violations: 12345,
      stickiness: 0.97,
      expectedRandom: 0.333,
      spread: { verdict: 'skewed', head: 'skewed p=4e-11', text: 'skewed p=4e-11 (n=500)' },
      ...(i === 0 ? { live: 42 } : {}),
    }),
  );
  const term = renderAt(<App source={fixedSource(model(rows))} fps={50} />, size);
  t.after(() => term.unmount());
  await waitFor(
    'the rows',
    screenHolds(term.frame, (s) => names.every((n) => s.includes(n))),
    2000,
  );
  const lines = plain(term.frame()).replace(/\n$/, '').split('\n');
  for (const l of lines) assert.ok(stringWidth(l) <= size.columns, `'${l}' is wider than ${size.columns}`);
  const head = lines.find((l) => l.includes('SERVICE'))!;
  for (const h of ['SEL/S', 'LIVE', 'SPREAD', 'STICKY (1/K)', 'VIOL']) assert.ok(head.includes(h), `${h} in '${head}'`);
  for (const n of names) {
    const l = lines.find((x) => x.includes(n));
    assert.ok(l, `${n} whole on the screen:\n${lines.join('\n')}`);
    assert.match(l, /\s1\.2k\s.*\sskewed p=4e-11\s+97% \(33%\)\s+12345\s*$/, `'${l}'`);
  }
});

test("the detail labels each figure's window: the window, the last seconds, now, since each client's first pick", async (t) => {
  const web = row('web', { live: 3 });
  const term = renderAt(<App source={fixedSource(model([web]))} fps={50} />, { columns: 160, rows: 40 });
  t.after(() => term.unmount());
  await waitFor(
    'the row',
    screenHolds(term.frame, (s) => s.includes('web')),
    2000,
  );
  term.type('\r');
  await waitFor(
    'the detail',
    screenHolds(term.frame, (s) => s.includes('LAST SWITCH')),
    2000,
  );
  const screen = plain(term.frame());
  assert.match(screen, /^last 1m: 100 selections {2}sticky 80% \(random 50%\) {2}violations 0 {2}last 5s: 10\/s$/m);
  assert.match(screen, /^last 1m: spread uniform \(n=100\)/m);
  assert.match(screen, /^now: 3 connections open/m);
  assert.match(screen, /^last 1m: selections per 5s ▁/m);
  assert.match(screen, /^now: affinity sets /m);
  assert.match(screen, /backends: share, selections, bytes\/s over the last 1m; live and oldest connection now/);
  assert.match(screen, /clients: picks and sticky since each one's first pick seen \(not the window\)/);
});
