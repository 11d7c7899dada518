// Live connections on screen: a trace file of the synthetic node (test/helpers/live-trace.ts) replayed into the TUI
// shows the script's answers: the LIVE column, the share bars switched by 'l', and per backend LIVE, BYTES/S and
// OLDEST with open connections per client in the detail; without byte counters, bytes said unavailable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createState } from '../../src/aggregator/state.js';
import { readTrace } from '../../src/record/trace-reader.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { AggregatorFrameSource } from '../../src/tui/aggregator-source.js';
import { feedReplay } from '../../src/tui/replay-feed.js';
import { A, B, C, D, liveTrace } from '../helpers/live-trace.js';
import type { StickyEvent } from '../../src/core/event.js';

const { render } = await import('ink-testing-library');
const { App } = await import('../../src/tui/app.js');

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
const WINDOW = 25;

async function until(what: string, check: () => boolean, screen: () => string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the screen:\n${screen()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('tui: a replayed live trace shows open connections, bytes per second and the oldest per backend', async (t) => {
  const { events, truth } = liveTrace();
  const dir = await mkdtemp(join(tmpdir(), 'ss-tui-live-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'live.trace');
  const writer = await TraceWriter.open(path);
  for (let i = 0; i < events.length; i += 5) await writer.append(events.slice(i, i + 5));
  await writer.close();

  const source = new AggregatorFrameSource(createState({ windowSeconds: WINDOW }), 'replay');
  const fed = await feedReplay(readTrace(path), {
    speed: 0,
    signal: new AbortController().signal,
    push: (b) => source.push(b),
  });
  assert.equal(fed, events.length);
  const app = render(<App source={source} fps={50} />);
  t.after(() => app.unmount());
  const text = () => plain(app.lastFrame() ?? '');
  const press = async (keys: string, expect: (s: string) => boolean, what: string) => {
    app.stdin.write(keys);
    await until(what, () => expect(text()), text);
  };
  await until('the web row', () => text().includes('lab/web:http'), text);
  const row = () =>
    text()
      .split('\n')
      .find((l) => l.includes('lab/web:http'))!;
  assert.match(text(), / LIVE /);
  // SEL/S then LIVE: the Service's open connections.
  assert.match(row(), new RegExp(`\\d\\s+${truth.openTotal} `));
  await press('l', (s) => s.includes(' OPEN NOW ') && s.includes('l bars:open'), 'open bars');
  await press('l', (s) => s.includes(' BYTES ') && s.includes('l bars:bytes'), 'byte bars');
  await press('l', (s) => s.includes('l bars:new'), 'back to new connections');
  await press('?', (s) => s.includes('switch the share bars'), 'the help names the key');
  await press('?', (s) => !s.includes('switch the share bars'), 'help closed');

  await press('\r', (s) => s.includes('BYTES/S') && s.includes('OLDEST'), 'the detail');
  assert.match(
    text(),
    new RegExp(`now: ${truth.openTotal} connections open\\s+3 of 3 open connections predate the 2 newest endpoints`),
  );
  const seconds = WINDOW;
  const bytes = truth.windowBytes(WINDOW);
  const line = (backend: string) =>
    text()
      .split('\n')
      .find((l) => l.trimStart().replace(/^› /, '').startsWith(backend))!;
  for (const backend of [A, B, C, D]) {
    const cells = line(backend).trim().split(/\s+/);
    const [live, rate, oldest] = cells.slice(-3);
    assert.equal(Number(live), truth.open[backend], `LIVE of ${backend}`);
    const want = bytes[backend]! / seconds;
    const shown = Number(rate!.replace(/k?B$/, '')) * (rate!.endsWith('kB') ? 1000 : 1);
    assert.ok(Math.abs(shown - want) <= Math.max(0.06 * want, 0.05), `BYTES/S of ${backend}: ${rate} for ${want}`);
    const age = truth.oldestSeconds[backend];
    assert.equal(oldest, age === undefined ? '-' : formatAge(age), `OLDEST of ${backend}`);
  }
  // Open connections per client: every client the script leaves open has its row, with its count.
  for (const [client, n] of Object.entries(truth.openByClient)) {
    const r = text()
      .split('\n')
      .find((l) => l.includes(`${client} `))!;
    assert.ok(r, `a row for ${client}`);
    assert.match(r, new RegExp(`\\s${n}\\s+(-|\\S+ ago)\\s`), `open connections of ${client}`);
  }
});

function formatAge(s: number): string {
  const x = Math.floor(s);
  if (x < 60) return `${x}s`;
  if (x < 3600) return `${Math.floor(x / 60)}m${String(x % 60).padStart(2, '0')}s`;
  return `${Math.floor(x / 3600)}h${String(Math.floor((x % 3600) / 60)).padStart(2, '0')}m`;
}

test('tui: without nf_conntrack_acct the same open connections, and bytes said unavailable rather than 0', async (t) => {
  const { events, truth } = liveTrace();
  // What the helper sends on a kernel's defaults (nf_conntrack_acct and nf_conntrack_timestamp off): no traffic, no
  // counters, sweeps that say so, and no start for the connections the dump finds.
  const bare = events.flatMap((e): StickyEvent[] => {
    if (e.type === 'traffic') return [];
    if (e.type === 'sweep') return [{ ...e, acct: false }];
    if (e.type !== 'open' && e.type !== 'close') return [e];
    const { origPackets: _p, origBytes: _b, replyPackets: _q, replyBytes: _r, start, ...rest } = e;
    return [(e.type === 'open' && e.seen === 'dump' ? rest : { ...rest, start }) as StickyEvent];
  });
  const source = new AggregatorFrameSource(createState({ windowSeconds: WINDOW }), 'replay');
  for (let i = 0; i < bare.length; i += 5) source.push(bare.slice(i, i + 5));
  const app = render(<App source={source} fps={50} />);
  t.after(() => app.unmount());
  const text = () => plain(app.lastFrame() ?? '');
  const press = async (keys: string, expect: (s: string) => boolean, what: string) => {
    app.stdin.write(keys);
    await until(what, () => expect(text()), text);
  };
  await until('the web row', () => text().includes('lab/web:http'), text);
  const row = () =>
    text()
      .split('\n')
      .find((l) => l.includes('lab/web:http'))!;
  assert.match(row(), new RegExp(`\\d\\s+${truth.openTotal} `), 'LIVE counts the open connections');
  await press('l', (s) => s.includes('l bars:open'), 'open bars');
  await press('l', (s) => s.includes('l bars:bytes'), 'byte bars');
  // The bars' cells say it, as far as they reach on this narrow screen.
  assert.match(row(), /\(bytes/);
  assert.doesNotMatch(row(), /[▏▎▍▌▋▊▉█]/, 'no bar drawn from bytes nobody counted');
  await press('l', (s) => s.includes('l bars:new'), 'back to new connections');
  await press('\r', (s) => s.includes('BYTES/S'), 'the detail');
  assert.match(text(), new RegExp(`now: ${truth.openTotal} connections open`));
  // No selection in the window's end, yet its open connections go through node-a.
  assert.match(text(), /lab\/web:http .* nodes node-a\n/);
  assert.match(text(), /\nbytes unavailable: nf_conntrack_acct is off on the nodes; 'sysctl net\.netfilter/);
  for (const backend of [A, B, C, D]) {
    const cells = text()
      .split('\n')
      .find((l) => l.trimStart().replace(/^› /, '').startsWith(backend))!
      .trim()
      .split(/\s+/);
    const [live, rate, oldest] = cells.slice(-3);
    assert.equal(Number(live), truth.open[backend], `LIVE of ${backend}`);
    assert.equal(rate, 'n/a', `BYTES/S of ${backend}`);
    // Open since before tracing with no known start: at least as old as tracing.
    if (backend === A || backend === B) assert.match(oldest!, /^>(\d+s|\d+m\d\ds)$/, `OLDEST of ${backend}`);
  }
});
