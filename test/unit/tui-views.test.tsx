// The views driven from hand-written view models: what a user sees and what keys do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { FrameSource, NotableLine } from '../../src/tui/view-model.js';
import { fixedSource, model, plain, row, T0 } from '../helpers/tui-models.js';
import { fakeStdin } from '../helpers/fake-stdin.js';
import { screenHolds, waitFor } from '../helpers/wait.js';

// Colours are part of what is tested; chalk decides its level when first imported.
process.env.FORCE_COLOR = '1';
const { render } = await import('ink-testing-library');
const { App } = await import('../../src/tui/app.js');

function mount(source: FrameSource) {
  const app = render(<App source={source} fps={50} />);
  const frame = () => app.lastFrame() ?? '';
  const text = () => plain(frame());
  const press = async (keys: string, expect: (screen: string) => boolean, what: string) => {
    app.stdin.write(keys);
    await waitFor(what, screenHolds(text, expect), 2000);
  };
  return { app, frame, text, press };
}

/** Names of the service rows, top to bottom, as displayed. */
function order(screen: string, names: string[]): string[] {
  return names
    .map((n) => [n, screen.indexOf(` ${n} `)] as const)
    .filter(([, i]) => i >= 0)
    .sort((a, b) => a[1] - b[1])
    .map(([n]) => n);
}

/** Eighths of a cell filled in a bar made of full blocks and one partial block. */
function eighths(bar: string): number {
  const partial = ' ▏▎▍▌▋▊▉';
  let n = 0;
  for (const ch of bar) n += ch === '█' ? 8 : Math.max(0, partial.indexOf(ch));
  return n;
}

test('each backend bar is proportional to its share', async (t) => {
  const shares = [0.6, 0.3, 0.1];
  const backends = shares.map((share, i) => ({
    backend: `10.1.2.${i + 2}:8080`,
    pod: `web-${i}`,
    selections: share * 1000,
    share,
  }));
  const { app, text, press } = mount(fixedSource(model([row('web', { backends })])));
  t.after(() => app.unmount());
  await waitFor(
    'the row',
    screenHolds(text, (s) => s.includes('web')),
    2000,
  );
  // List view: three bars side by side, separated by │.
  const line = text()
    .split('\n')
    .find((l) => l.includes(' web '))!;
  const parts = /([█▏▎▍▌▋▊▉ ]+)│([█▏▎▍▌▋▊▉ ]+)│([█▏▎▍▌▋▊▉ ]+)/.exec(line)!.slice(1);
  // The middle bar is bounded on both sides, so it gives the width; the outer parts carry the column gaps.
  const width = parts[1]!.length;
  const bars = [parts[0]!.slice(-width), parts[1]!, parts[2]!.slice(0, width)];
  bars.forEach((b, i) => {
    assert.ok(Math.abs(eighths(b) - shares[i]! * width * 8) <= 1, `list bar ${i} '${b}' for share ${shares[i]}`);
  });
  // Detail view: one 25-cell bar per backend line.
  await press('\r', (s) => s.includes('BACKEND') && s.includes('web-2'), 'the detail');
  for (const [i, share] of shares.entries()) {
    const l = text()
      .split('\n')
      .find((x) => x.includes(`web-${i}`))!;
    const bar = /web-\d\s+([█▏▎▍▌▋▊▉ ]{25})/.exec(l)![1]!;
    assert.ok(Math.abs(eighths(bar) - share * 25 * 8) <= 1, `detail bar '${bar}' for share ${share}`);
    assert.match(l, new RegExp(`${Math.round(share * 100)}%`));
  }
});

test('affinity violations are shown in red, and only where there are some', async (t) => {
  const { app, frame, text } = mount(fixedSource(model([row('clean'), row('broken', { violations: 7 })])));
  t.after(() => app.unmount());
  await waitFor(
    'both rows',
    screenHolds(text, (s) => s.includes('broken') && s.includes('clean')),
    2000,
  );
  const lines = frame().split('\n');
  const broken = lines.find((l) => plain(l).includes(' broken '))!;
  const clean = lines.find((l) => plain(l).includes(' clean '))!;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
  assert.match(broken, /\x1b\[31m(\x1b\[\d+m)*7 /, 'the violation count is red');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
  assert.doesNotMatch(clean, /\x1b\[31m/, 'a clean service has no red');
});

test('lost events are highlighted and down nodes named in the header', async (t) => {
  const { app, frame, text } = mount(
    fixedSource(model([row('web')], { lostEvents: 42, nodesUp: ['n1'], nodesDown: ['n2'] })),
  );
  t.after(() => app.unmount());
  await waitFor(
    'the header',
    screenHolds(text, (s) => s.includes('lost 42')),
    2000,
  );
  const header = frame()
    .split('\n')
    .find((l) => plain(l).includes('lost 42'))!;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
  assert.match(header, /\x1b\[31m(\x1b\[\d+m)* lost 42/);
  assert.match(text(), /1 down: n2/);
});

test('s cycles the sort: name, rate, violations, skew', async (t) => {
  const rows = [
    row('alpha', { selectionsPerSecond: 1, violations: 5, chi2P: 0.5 }),
    row('bravo', {
      selectionsPerSecond: 30,
      violations: 0,
      chi2P: 0.0001,
      spread: { verdict: 'skewed', head: 'skewed p=1e-4', text: 'skewed p=1e-4 (n=500)' },
    }),
    row('charlie', { selectionsPerSecond: 20, violations: 9, chi2P: 0.2 }),
  ];
  const names = ['alpha', 'bravo', 'charlie'];
  const { app, text, press } = mount(fixedSource(model(rows)));
  t.after(() => app.unmount());
  await waitFor(
    'rows',
    screenHolds(text, (s) => order(s, names).length === 3),
    2000,
  );
  assert.deepEqual(order(text(), names), ['alpha', 'bravo', 'charlie']);
  await press('s', (s) => s.includes('sort:rate'), 'sort by rate');
  assert.deepEqual(order(text(), names), ['bravo', 'charlie', 'alpha']);
  await press('s', (s) => s.includes('sort:violations'), 'sort by violations');
  assert.deepEqual(order(text(), names), ['charlie', 'alpha', 'bravo']);
  await press('s', (s) => s.includes('sort:skew'), 'sort by skew');
  assert.deepEqual(order(text(), names), ['bravo', 'charlie', 'alpha']);
  assert.match(text(), /skewed p=1e-4/);
});

test('the selection follows its Service when s re-sorts the rows', async (t) => {
  const rows = [
    row('alpha', { selectionsPerSecond: 1 }),
    row('bravo', { selectionsPerSecond: 30 }),
    row('charlie', { selectionsPerSecond: 20 }),
  ];
  const { app, text, press } = mount(fixedSource(model(rows)));
  t.after(() => app.unmount());
  await waitFor(
    'rows',
    screenHolds(text, (s) => order(s, ['alpha', 'bravo', 'charlie']).length === 3),
    2000,
  );
  await press('j', (s) => /› bravo/.test(s), 'the cursor on bravo (row 2)');
  await press('s', (s) => s.includes('sort:rate'), 'sort by rate');
  // bravo is now row 1: the cursor went with it rather than staying on row 2 (charlie).
  assert.match(text(), /› bravo/);
  await press('j', (s) => /› charlie/.test(s), 'the next row by rate');
});

test('Backspace (DEL, 0x7f) deletes in the filter, also several in one read', async (t) => {
  const names = ['web', 'dns', 'webhook'];
  const { app, text, press } = mount(fixedSource(model(names.map((n) => row(n)))));
  t.after(() => app.unmount());
  await waitFor(
    'rows',
    screenHolds(text, (s) => order(s, names).length === 3),
    2000,
  );
  await press('/', (s) => s.includes('filter /'), 'the filter prompt');
  await press('dnx', (s) => s.includes('filter /dnx'), 'typed text');
  await press('\x7f', (s) => s.includes('filter /dn') && !s.includes('filter /dnx'), 'one DEL');
  await press('\x7f\x7fweb', (s) => s.includes('filter /web'), 'two DELs and text in one read');
  await press('\r', (s) => s.includes("filter: 'web'"), 'the filter kept');
  assert.deepEqual(order(text(), names), ['web', 'webhook']);
  assert.doesNotMatch(text(), /\\x7f/);
});

test('/ filters the rows; Esc clears the filter', async (t) => {
  const names = ['web', 'dns', 'webhook'];
  const { app, text, press } = mount(fixedSource(model(names.map((n) => row(n)))));
  t.after(() => app.unmount());
  await waitFor(
    'rows',
    screenHolds(text, (s) => order(s, names).length === 3),
    2000,
  );
  await press('/', (s) => s.includes('filter /'), 'the filter prompt');
  await press('web', (s) => s.includes('filter /web'), 'typed text');
  await press('\r', (s) => s.includes("filter: 'web'"), 'the filter kept');
  assert.deepEqual(order(text(), names), ['web', 'webhook']);
  await press('/', (s) => s.includes('filter /web'), 'the prompt again');
  await press('\x1b', (s) => !s.includes('filter /') && !s.includes("filter: '"), 'the filter cleared');
  assert.deepEqual(order(text(), names), ['dns', 'web', 'webhook']);
});

test('Enter opens the selected service, Esc goes back', async (t) => {
  const bravo = row('bravo', { violations: 2 });
  const source = fixedSource(model([row('alpha'), bravo]));
  const { app, text, press } = mount(source);
  t.after(() => app.unmount());
  await waitFor(
    'rows',
    screenHolds(text, (s) => s.includes('bravo')),
    2000,
  );
  await press('j', (s) => /› alpha/.test(s) === false, 'the cursor to move');
  await press('\r', (s) => s.includes('CLIENT'), 'the detail');
  const screen = text();
  assert.match(screen, /bravo/);
  assert.doesNotMatch(screen, / alpha /, 'only the opened service');
  assert.match(
    screen,
    /10\.0\.1\.3\s+bravo-b\s+5\s+50%\s+1\.0s ago\s+violation 2\.0s ago from 10/,
    'the switch, cut at 100 columns',
  );
  assert.match(screen, /never switched/);
  // 0 1 2 4 8 4 2 1 0 0 1 8 over 8 levels, scaled to the largest and rounded: level round(v / 8 * 7).
  assert.match(screen, /selections per 5s ▁▂▃▅█▅▃▂▁▁▂█/);
  assert.match(screen, /affinity sets 10\.1\.1\.2:8080 4\/4 100%\s+10\.1\.1\.3:8080 1\/4 25%/);
  assert.equal(source.focused.at(-1), bravo.service, 'the source was asked for that detail');
  await press('\x1b', (s) => s.includes('SERVICE') && s.includes('alpha'), 'the list again');
});

test('? shows the keys and hides them again', async (t) => {
  const { app, text, press } = mount(fixedSource(model([row('web')])));
  t.after(() => app.unmount());
  await waitFor(
    'rows',
    screenHolds(text, (s) => s.includes('web')),
    2000,
  );
  assert.doesNotMatch(text(), /Keys/);
  await press('?', (s) => s.includes('Keys') && s.includes('cycle the sort'), 'the help');
  await press('?', (s) => !s.includes('Keys') && s.includes('SERVICE'), 'the help gone');
});

test('notable events are printed once above the live panel', async (t) => {
  const queue: NotableLine[] = [];
  const { app, text } = mount(fixedSource(model([row('web')]), queue));
  t.after(() => app.unmount());
  queue.push({ id: 'a', ts: T0, kind: 'violation', text: '10.0.1.3 web 10.1.1.2:8080 → 10.1.1.3:8080 (listFull)' });
  queue.push({ id: 'b', ts: T0, kind: 'nodeDown', text: 'n2: connection refused' });
  await waitFor(
    'the log',
    screenHolds(text, (s) => s.includes('listFull') && s.includes('n2: connection refused')),
    2000,
  );
  const screen = text();
  assert.ok(screen.indexOf('VIOLATION') < screen.indexOf('stickyscope'), 'the log is above the header');
  assert.match(screen, /NODE DOWN n2: connection refused/);
});

/** Minimal TTY-like streams, so the real runTui (Ink's render with its exit handling) can be driven. */
function fakeTerminal() {
  const stdout = Object.assign(new EventEmitter(), {
    columns: 120,
    rows: 30,
    isTTY: true,
    out: '',
    write(s: string) {
      stdout.out += s;
      return true;
    },
  });
  const stdin = fakeStdin();
  return { stdout, stdin };
}

for (const [name, key] of [
  ['q', 'q'],
  ['Ctrl-C', '\x03'],
] as const) {
  test(`${name} ends the app: waitUntilExit resolves`, async () => {
    const { runTui } = await import('../../src/tui/run.js');
    const { stdout, stdin } = fakeTerminal();
    const source = fixedSource(model([row('web')]));
    const app = runTui(source, { fps: 50, stdout: stdout as never, stdin: stdin as never });
    try {
      // Not the output: under CI, Ink writes frames only at exit.
      await waitFor('the frame timer', () => source.focused.length > 2, 2000);
      stdin.type(key);
      const exited = await Promise.race([
        app.waitUntilExit().then(() => true),
        new Promise((r) => setTimeout(() => r(false), 2000)),
      ]);
      assert.equal(exited, true, `the app exited after ${name}`);
    } finally {
      app.unmount();
    }
  });
}
