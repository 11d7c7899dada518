// `stickyscope tui --replay` in a real terminal (tmux) at 180x45 and 80x24 (issue 27): at 80 columns the list keeps
// the name, SEL/S, SPREAD, STICKY and VIOL whole; narrowing from 180 to 80 columns leaves nothing of the old frame;
// Space pauses a replay, the arrows step it a window, Space plays on.
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
    name: 'lab/sticky:http',
    endpoints: ['10.1.1.2:8080', '10.1.1.3:8080', '10.1.1.4:8080'],
    timeoutSeconds: 10,
    // A few violations: lines in the event log above the frame, as in an incident.
    violationRate: 0.01,
  },
  {
    address: '10.96.0.11:80',
    name: 'lab/web:http',
    endpoints: ['10.1.2.2:8080', '10.1.2.3:8080'],
    timeoutSeconds: null,
    weights: [3, 1],
  },
  {
    address: '10.96.0.12:53',
    name: 'kube-system/kube-dns:dns-tcp',
    endpoints: ['10.1.3.2:53', '10.1.3.3:53'],
    timeoutSeconds: null,
  },
];

async function traceFile(t: { after(fn: () => void): void }, durationSeconds: number): Promise<string> {
  const path = join(tmpdir(), `${runPrefix('tui-sizes')}.trace`);
  t.after(() => rmSync(path, { force: true }));
  const { events } = synthesize(services, { durationSeconds, selectionsPerSecond: 60, clients: 20, seed: 11 });
  const w = await TraceWriter.open(path, { nodes: ['node-a'] });
  await w.append(events);
  await w.close();
  return path;
}

/** The list's rows end with SPREAD, STICKY (1/K) and VIOL (a number), whole. */
const wholeRow = (name: string) =>
  new RegExp(
    `^[ ›] ${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} .*\\s(uniform|skewed p=\\S+|too few to judge)\\s+\\d+% \\(\\d+%\\)\\s+\\d+\\s*$`,
    'm',
  );

test('tui at 80x24: names, SEL/S, SPREAD, STICKY and VIOL whole; the help fits', async (t) => {
  const path = await traceFile(t, 10);
  const term = startTmux(`${process.execPath} ${cli} tui --replay ${path} --speed 0`, { cols: 80, rows: 24 });
  t.after(() => term.kill());
  // The header's end (where "finished" is said) is cut at 80 columns: the rows are what is waited for.
  const screen = await waitFor(
    'every row whole',
    () => {
      const s = term.capture();
      return services.every((x) => wholeRow(x.name!).test(s)) ? s : new NotYet(s, 'the three rows whole');
    },
    10_000,
  );
  const lines = screen.split('\n');
  assert.match(lines.find((l) => l.includes('SERVICE')) ?? '', /SERVICE\s.*SEL\/S .*SPREAD\s+STICKY \(1\/K\) VIOL/);
  assert.match(lines.find((l) => /\? help {2}q quit$/.test(l)) ?? '', /^space pause/, 'the footer keeps help and quit');
  term.sendKeys('?');
  const help = await term.waitForText('Columns');
  assert.match(help, /^SEL\/S\s+new connections per second \(backend picks\), not requests; last 5s$/m);
  assert.match(help, /^NODES\s+.*\(wide terminals\)$/m, 'the last line of the help is on the screen');
  term.sendKeys('q');
  assert.equal((await term.waitForExit()).code, 0);
});

test('tui narrowed from 180x45 to 80x24 leaves nothing of the wide frame', async (t) => {
  const path = await traceFile(t, 10);
  const term = startTmux(`${process.execPath} ${cli} tui --replay ${path} --speed 0`, { cols: 180, rows: 45 });
  t.after(() => term.kill());
  const wide = await term.waitForText(/replay .*: finished/);
  assert.match(wide, /SERVICE\s+AFFINITY\s.*\sNODES/, 'AFFINITY and NODES at 180 columns');
  term.resize(80, 24);
  const narrow = await waitFor(
    'the frame redrawn at 80 columns',
    () => {
      const s = term.capture();
      return /SERVICE\s.*VIOL\s*$/m.test(s) && !/AFFINITY/.test(s) ? s : new NotYet(s, '80-column headings');
    },
    10_000,
  );
  const lines = narrow.split('\n');
  const header = lines.findIndex((l) => l.startsWith('stickyscope '));
  assert.ok(
    lines.slice(0, header).every((l) => /^\d\d:\d\d:\d\d\.\d{3} VIOLATION /.test(l)),
    `nothing but event-log lines above the header:\n${narrow}`,
  );
  assert.equal(narrow.match(/stickyscope {2}nodes/g)?.length, 1, `one header, no leftover of the old one:\n${narrow}`);
  assert.equal(narrow.match(/SERVICE/g)?.length, 1, `one heading:\n${narrow}`);
  for (const s of services) {
    assert.equal(narrow.split(s.name!).length - 1, 1, `${s.name} once:\n${narrow}`);
    assert.match(narrow, wholeRow(s.name!));
  }
  term.sendKeys('q');
  assert.equal((await term.waitForExit()).code, 0);
});

test('tui --replay at 180x45: Space pauses, → and ← step a window, Space plays on', async (t) => {
  const path = await traceFile(t, 120);
  const term = startTmux(`${process.execPath} ${cli} tui --replay ${path} --window 10s --fps 20`, {
    cols: 180,
    rows: 45,
  });
  t.after(() => term.kill());
  await term.waitForText(/lab\/web:http\s+none\s+\d/);
  term.sendKeys('Space');
  let screen = await term.waitForText(/: paused at \d\d:\d\d:\d\d/);
  assert.match(screen, /PAUSED space plays/);
  const at = /: paused at (\d\d):(\d\d):(\d\d)/.exec(screen)!;
  const seconds = (m: RegExpExecArray) => Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  const paused = seconds(at);
  const row = (s: string) => s.split('\n').find((l) => /^[ ›] lab\/web:http /.test(l));
  const pausedRow = row(screen);

  term.sendKeys('Right');
  screen = await term.waitForText(`: paused at ${clockOf(paused + 10)}`);
  term.sendKeys('Right');
  screen = await term.waitForText(`: paused at ${clockOf(paused + 20)}`);
  term.sendKeys('Left');
  screen = await term.waitForText(`: paused at ${clockOf(paused + 10)}`);
  term.sendKeys('Left');
  screen = await term.waitForText(`: paused at ${clockOf(paused)}`);
  await waitFor(
    'the row as it was at the pause',
    () => (row(term.capture()) === pausedRow ? true : new NotYet(row(term.capture()), pausedRow)),
    5000,
  );
  term.sendKeys('Space');
  screen = await term.waitForText(/\.trace ×1\s*$/m);
  assert.doesNotMatch(screen, /PAUSED/);
  term.sendKeys('q');
  assert.equal((await term.waitForExit()).code, 0);
});

/** HH:MM:SS of a second of the day. */
function clockOf(s: number): string {
  return [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60].map((n) => String(n).padStart(2, '0')).join(':');
}
