// `stickyscope tui --replay` in a real terminal (tmux): what the screen shows for a
// generated trace, keys, pacing, and that q gives the terminal back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { runPrefix } from '../helpers/env.js';
import { startTmux } from '../helpers/tmux.js';
import { synthesize, type SyntheticService } from '../helpers/tui-events.js';
import { NotYet, waitFor } from '../helpers/wait.js';

const cli = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));

const services: SyntheticService[] = [
  {
    address: '10.96.0.10:80',
    name: 'lab/web:http',
    endpoints: ['10.1.1.2:8080', '10.1.1.3:8080', '10.1.1.4:8080'],
    timeoutSeconds: 30,
    violationRate: 0.05,
  },
  {
    address: '10.96.0.11:80',
    name: 'lab/api:http',
    endpoints: ['10.1.2.2:8080', '10.1.2.3:8080'],
    timeoutSeconds: null,
    weights: [3, 1],
  },
];

async function traceFile(
  t: { after(fn: () => void): void },
  durationSeconds: number,
): Promise<{ path: string; truth: ReturnType<typeof synthesize>['truth'] }> {
  const path = join(tmpdir(), `${runPrefix('tui')}.trace`);
  t.after(() => rmSync(path, { force: true }));
  const { events, truth } = synthesize(services, { durationSeconds, selectionsPerSecond: 100, clients: 30, seed: 3 });
  const w = await TraceWriter.open(path, { nodes: ['node-a'] });
  await w.append(events);
  await w.close();
  return { path, truth };
}

test('tui --replay shows the trace, opens a service, and q restores the terminal', async (t) => {
  const { path, truth } = await traceFile(t, 10);
  const term = startTmux(`${process.execPath} ${cli} tui --replay ${path} --speed 0`, { cols: 160, rows: 50 });
  t.after(() => term.kill());

  const violations = truth.violations.get('10.96.0.10:80/tcp')!;
  let screen = await term.waitForText(/replay .*: finished/);
  const row = (name: string) =>
    screen.split('\n').find((l) => l.startsWith(`› ${name} `) || l.startsWith(`  ${name} `))!;
  const web = row('lab/web:http');
  assert.match(web, /ClientIP 30s/);
  assert.match(
    web,
    new RegExp(`\\s${violations}\\s+1\\s*$`),
    `the web row ends with ${violations} violations and 1 node`,
  );
  assert.match(row('lab/api:http'), /skewed p=/);
  assert.match(screen, /VIOLATION/);

  term.sendKeys('Down');
  term.sendKeys('Enter');
  screen = await term.waitForText('LAST SWITCH');
  const counts = truth.backendCounts.get('10.96.0.10:80/tcp')!;
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  for (const [backend, n] of counts) {
    assert.match(
      screen,
      new RegExp(
        `${backend.replace(/\./g, '\\.')}\\s+web-\\d\\s+[█▏▎▍▌▋▊▉ ]+${Math.round((n / total) * 100)}%\\s+${n}\\b`,
      ),
    );
  }

  term.sendKeys('Escape');
  await term.waitForText('SHARE PER BACKEND');
  term.sendKeys('?');
  await term.waitForText('cycle the sort');
  term.sendKeys('q');
  const after = await term.waitForExit();
  assert.deepEqual(after, { code: 0, canonical: true, echo: true, cursorVisible: true });
});

test('tui honours NO_COLOR: no colour on the screen, and colour without it', async (t) => {
  const { path } = await traceFile(t, 2);
  // SGR sequences that set a foreground or background colour: 30-37, 38;..., 40-47, 48;..., 90-97, 100-107.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding escape sequences is the point
  const colour = /\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m/;
  for (const [env, coloured] of [
    [{ NO_COLOR: '1' }, false],
    [{}, true],
  ] as const) {
    const term = startTmux(`${process.execPath} ${cli} tui --replay ${path} --speed 0`, { cols: 160, rows: 40, env });
    t.after(() => term.kill());
    await term.waitForText(/replay .*: finished/);
    assert.equal(colour.test(term.captureStyled()), coloured, `colour with env ${JSON.stringify(env)}`);
    term.sendKeys('q');
    await term.waitForExit();
    term.kill();
  }
});

test('tui --replay --speed 2 plays a 4 s trace in about 2 s', async (t) => {
  const { path } = await traceFile(t, 4);
  const spawned = Date.now();
  const term = startTmux(`${process.execPath} ${cli} tui --replay ${path} --speed 2 --fps 20`, { cols: 160, rows: 40 });
  t.after(() => term.kill());
  await term.waitForText('lab/web:http');
  const firstFrame = Date.now();
  await term.waitForText(/replay .*: finished/, 10_000);
  const end = Date.now();
  // Paced at 2x, 4 s of trace cannot end sooner than 2 s after start; the upper bound is timed from the first frame,
  // so node's start-up (seconds on a loaded machine) does not count.
  const total = (end - spawned) / 1000;
  const fromFirstFrame = (end - firstFrame) / 1000;
  assert.ok(
    total >= 1.9 && fromFirstFrame < 4,
    `took ${total.toFixed(2)} s, ${fromFirstFrame.toFixed(2)} s from the first frame`,
  );
  term.sendKeys('C-c');
  assert.equal((await term.waitForExit()).code, 0);
});

test('tui refuses a file that is not a trace, before taking over the screen', async (t) => {
  const path = join(tmpdir(), `${runPrefix('tui')}.txt`);
  t.after(() => rmSync(path, { force: true }));
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, 'hello, not a trace\n');
  const term = startTmux(`${process.execPath} ${cli} tui --replay ${path}`, { cols: 160, rows: 20 });
  t.after(() => term.kill());
  const after = await term.waitForExit();
  assert.equal(after.code, 4);
  assert.match(term.capture(), /not a stickyscope trace/);
});

test('tui --agent shows a live agent, and the node going down when the agent stops', async (t) => {
  const { EventEmitter } = await import('node:events');
  const { getServer } = await import('../../src/agent/server.js');
  const feed = new EventEmitter();
  const agent = getServer(feed, { node: 'node-live' });
  let closed = false;
  const close = async () => {
    if (!closed) await agent.close();
    closed = true;
  };
  t.after(close);
  const address = await agent.bind('127.0.0.1:0');
  const term = startTmux(`${process.execPath} ${cli} tui --agent ${address} --fps 20`, { cols: 180, rows: 45 });
  t.after(() => term.kill());
  await term.waitForText(/nodes 1\b/);

  const { events, truth } = synthesize(services, {
    durationSeconds: 2,
    selectionsPerSecond: 200,
    clients: 20,
    seed: 5,
    node: 'node-live',
    start: Date.now() * 1000,
  });
  feed.emit('events', events);
  const violations = truth.violations.get('10.96.0.10:80/tcp') ?? 0;
  const screen = await term.waitForText(new RegExp(`lab/web:http .*\\s${violations}\\s+1\\s*\\n`));
  assert.match(screen, /agents 127\.0\.0\.1:\d+/);

  await close();
  await term.waitForText(/NODE DOWN node-live/);
  await term.waitForText(/1 down: node-live/);
  // Its rows are stale: no rates, since when instead; and the clock runs on without events.
  const stale = await term.waitForText(/^[ ›] lab\/web:http .*\sno data since \d\d:\d\d:\d\d\s/m);
  assert.doesNotMatch(stale.split('\n').find((l) => l.includes('no data since'))!, /█/, 'no share bars on it');
  const clockOf = (screen: string) => /window 1m {2}(\d\d:\d\d:\d\d)/.exec(screen)?.[1];
  const stopped = clockOf(stale);
  await waitFor(
    'the clock to run on after the node went down',
    () => {
      const now = clockOf(term.capture());
      return now && now !== stopped ? now : new NotYet(term.capture(), `a clock past ${stopped}`);
    },
    5000,
  );
  term.resize(80, 24);
  await term.waitForText(/^[ ›] lab\/web:http\s+no data since \d\d:\d\d:\d\d\s+\S/m);
  term.sendKeys('q');
  assert.deepEqual(await term.waitForExit(), { code: 0, canonical: true, echo: true, cursorVisible: true });
});
