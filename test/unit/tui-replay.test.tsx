// Replay keys on a crafted trace: Space pauses (the figures stop), → steps one window forward at once, ← one back (the
// trace read again from its start: the figures are exactly those seen before, and no event-log line is printed twice),
// Space again plays on.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createState } from '../../src/aggregator/state.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { AggregatorFrameSource } from '../../src/tui/aggregator-source.js';
import { clock } from '../../src/tui/format.js';
import { startReplay } from '../../src/tui/replay-start.js';
import { synthesize } from '../helpers/tui-events.js';
import { plain } from '../helpers/tui-models.js';
import { NotYet, screenHolds, waitFor } from '../helpers/wait.js';

process.env.FORCE_COLOR = '0';
const { App } = await import('../../src/tui/app.js');
const { renderAt } = await import('../helpers/ink-terminal.js');

const WINDOW_SECONDS = 5;

/** A minute of lab/web at 20 selections per second, a few of them violations (lines in the event log). */
async function stepsTrace(path: string): Promise<void> {
  const { events } = synthesize(
    [
      {
        address: '10.96.0.10:80',
        name: 'lab/web:http',
        endpoints: ['10.1.1.2:8080', '10.1.1.3:8080', '10.1.1.4:8080'],
        timeoutSeconds: 30,
        violationRate: 0.05,
      },
    ],
    { durationSeconds: 60, selectionsPerSecond: 20, clients: 10, seed: 9 },
  );
  const writer = await TraceWriter.open(path, { nodes: ['node-a'] });
  await writer.append(events);
  await writer.close();
}

/** The app over a paced replay of the trace, its keys wired as `tui --replay` wires them. */
async function mountReplay(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'ss-tui-replay-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'steps.trace');
  await stepsTrace(path);
  const source = new AggregatorFrameSource(createState({ windowSeconds: WINDOW_SECONDS }), 'replay');
  const stop = new AbortController();
  const { feed, control } = await startReplay(source, {
    file: path,
    speed: 1,
    windowSeconds: WINDOW_SECONDS,
    narrowing: {},
    signal: stop.signal,
  });
  const term = renderAt(<App source={source} fps={50} replay={control} />, { columns: 140, rows: 30 });
  t.after(async () => {
    term.unmount();
    stop.abort();
    await feed;
  });
  return { source, control, term };
}

test('replay: Space pauses, → and ← step one window, Space plays on', async (t) => {
  const { source, control, term } = await mountReplay(t);
  const screen = () => plain(term.frame());
  const row = () =>
    screen()
      .split('\n')
      .find((l) => /^[ ›] lab\/web:http /.test(l)) ?? '';
  const counted = () => /counted (\S+)-(\S+)/.exec(screen())?.slice(1) ?? [];
  const violations = () => screen().match(/VIOLATION/g)?.length ?? 0;
  await waitFor(
    'the first selections',
    screenHolds(screen, (s) => /lab\/web:http\s+\S+\s+\d/.test(s)),
    5000,
  );

  term.type(' ');
  await waitFor(
    'the pause',
    screenHolds(screen, (s) => s.includes('PAUSED')),
    3000,
  );
  await waitFor('the feed paused', () => control.paused, 1000);
  const at = control.position;
  // The last frame drawn after the pause holds what was fed up to it.
  await waitFor(
    'a frame of the paused figures',
    screenHolds(screen, () => counted()[1] === clock(source.state.lastCounted)),
    2000,
  );
  const paused = { row: row(), counted: counted(), violations: violations() };

  term.type('\x1b[C');
  await waitFor(
    'one window forward',
    () =>
      control.position === at + WINDOW_SECONDS * 1e6 && control.target === null
        ? true
        : new NotYet(control.position, 'moved'),
    5000,
  );
  // A frame drawn after the step's feed ended (its span ends where the state's does), so the event-log lines of the
  // whole window are in it: a frame drawn while the feed ran would show only part of them.
  await waitFor(
    'the window after the step',
    screenHolds(screen, () => counted()[1] !== paused.counted[1] && counted()[1] === clock(source.state.lastCounted)),
    2000,
  );
  assert.equal(control.paused, true, 'still paused after a step');
  assert.ok(
    source.state.lastTs <= at + WINDOW_SECONDS * 1e6 && source.state.lastTs > at + 4.8e6,
    'fed up to the window end',
  );
  const forwardViolations = violations();
  assert.ok(forwardViolations >= paused.violations, 'the violations of the window stepped over are printed');

  term.type('\x1b[D');
  await waitFor(
    'one window back',
    () => (control.position === at && control.target === null ? true : new NotYet(control.position, at)),
    5000,
  );
  await waitFor(
    'the figures seen at the pause',
    screenHolds(screen, () => row() === paused.row),
    2000,
  );
  assert.deepEqual(counted(), paused.counted, 'the same span as at the pause');
  assert.equal(violations(), forwardViolations, `no event-log line printed twice; the screen:\n${screen()}`);

  term.type(' ');
  await waitFor(
    'playing on',
    screenHolds(screen, (s) => !s.includes('PAUSED') && counted()[1] !== paused.counted[1]),
    5000,
  );
  assert.equal(control.paused, false);
});
