// A Service with 5,000 endpoints and 10,000 clients on 80x24 and 200x50 terminals: every
// line fits the width, the live frame fits the height with the header kept, the row's
// bars show the largest backends and how many more, MAX/M is not cut, and the detail's
// tables scroll by keys instead of scrolling the screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import stringWidth from 'string-width';
import type { CatalogEvent, DnatEvent, ServiceInfo, StickyEvent } from '../../src/core/event.js';
import { createState } from '../../src/aggregator/state.js';
import { AggregatorFrameSource } from '../../src/tui/aggregator-source.js';
import { renderAt, type Terminal } from '../helpers/ink-terminal.js';
import { screenHolds, waitFor } from '../helpers/wait.js';

process.env.FORCE_COLOR = '0';
const { App } = await import('../../src/tui/app.js');

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const K = 5000;
const CLIENTS = 10_000;
/** The hot backend: not first in address order, so only a selection by share finds it. */
const HOT = 4321;
/** Endpoints in address order, so endpoint i is the i-th row of the detail's backends table. */
const endpoint = (i: number) => `10.2.${i >> 8}.${i & 255}:8080`;

/** 9,000 picks to HOT, one each to endpoints 1..1000: max/mean = 9000 / (10000 / 5000) = 4500. */
function bigService(): { events: StickyEvent[]; maxOverMean: number } {
  const counts = new Array<number>(K).fill(0);
  const info = (service: string, name: string, endpoints: string[]): ServiceInfo => ({
    service,
    name,
    affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
    endpoints,
    pods: Object.fromEntries(endpoints.map((e, i) => [e, `${name.split('/')[1]!.split(':')[0]}-${i}`])),
  });
  const catalog: CatalogEvent = {
    type: 'catalog',
    ts: T0,
    node: 'node-a',
    services: [
      info(
        '10.96.0.20:80/tcp',
        'bulk/huge:http',
        Array.from({ length: K }, (_, i) => endpoint(i)),
      ),
      info('10.96.0.21:80/tcp', 'lab/web:http', ['10.1.1.2:8080', '10.1.1.3:8080']),
    ],
  };
  const events: StickyEvent[] = [catalog];
  for (let i = 0; i < CLIENTS; i++) {
    const b = i < 9000 ? HOT : 1 + (i - 9000);
    counts[b]!++;
    const ev: DnatEvent = {
      type: 'dnat',
      ts: T0 + 1000 + i * 1000,
      node: 'node-a',
      proto: 'tcp',
      client: `10.50.${i >> 8}.${i & 255}:40000`,
      service: '10.96.0.20:80',
      backend: endpoint(b),
      hook: 'prerouting',
      ctId: i.toString(16).padStart(16, '0'),
    };
    events.push(ev);
  }
  return { events, maxOverMean: Math.max(...counts) / (CLIENTS / K) };
}

const { events, maxOverMean } = bigService();

function assertFits(term: Terminal, size: { columns: number; rows: number }, where: string): string[] {
  const lines = term.frame().replace(/\n$/, '').split('\n');
  assert.ok(lines.length <= size.rows - 1, `${where}: ${lines.length} lines on a ${size.rows}-line terminal`);
  for (const l of lines) assert.ok(stringWidth(l) <= size.columns, `${where}: '${l}' is wider than ${size.columns}`);
  assert.match(lines[0]!, /^stickyscope /, `${where}: the header stays on top`);
  return lines;
}

/** Eighths of a cell filled in a bar made of full blocks and one partial block. */
function eighths(bar: string): number {
  const partial = ' ▏▎▍▌▋▊▉';
  let n = 0;
  for (const ch of bar) n += ch === '█' ? 8 : Math.max(0, partial.indexOf(ch));
  return n;
}

for (const size of [
  { columns: 80, rows: 24 },
  { columns: 200, rows: 50 },
]) {
  test(`${K} endpoints and ${CLIENTS} clients fit ${size.columns}x${size.rows}`, async (t) => {
    const source = new AggregatorFrameSource(createState({ windowSeconds: 60 }), 'replay big.trace');
    source.push(events);
    const term = renderAt(<App source={source} fps={50} />, size);
    t.after(() => term.unmount());
    const screen = () => term.frame();
    await waitFor(
      'the rows',
      screenHolds(screen, (s) => s.includes('bulk/huge') && s.includes('lab/web')),
      5000,
    );

    const lines = assertFits(term, size, 'the list');
    const head = lines.find((l) => l.includes('MAX/M'))!;
    const row = lines.find((l) => l.includes('bulk/huge'))!;
    const at = head.indexOf('MAX/M');
    assert.equal(row.slice(at, at + 5).trim(), String(maxOverMean), `MAX/M in full: '${row}'`);
    const bars = /((?:[█▏▎▍▌▋▊▉ ]+│)*[█▏▎▍▌▋▊▉ ]+) \+(\d+)(?: more)?/.exec(row.slice(head.indexOf('SHARE')));
    assert.ok(bars, `bars and +N on '${row}'`);
    const drawn = bars[1]!.split('│');
    assert.equal(drawn.length + Number(bars[2]), K, 'bars drawn and the count of the rest add up to every endpoint');
    const width = drawn[1]?.length ?? drawn[0]!.trimEnd().length;
    assert.ok(Math.abs(eighths(drawn[0]!) - 0.9 * width * 8) <= 1, `the first bar is the 90% backend: '${drawn[0]}'`);

    term.type('\r');
    await waitFor(
      'the detail',
      screenHolds(screen, (s) => /backends 1-\d+ of 5000/.test(s) && /clients 1-\d+ of/.test(s)),
      5000,
    );
    const detail = assertFits(term, size, 'the detail');
    assert.ok(
      detail.some((l) => l.includes('bulk/huge:http') && l.includes('affinity none')),
      'the title line',
    );
    const shown = Number(/backends 1-(\d+) of 5000, (\d+) more/.exec(screen())![1]);
    assert.equal(detail.filter((l) => /^[ ›] 10\.2\./.test(l)).length, shown, 'that many backend rows');
    assert.match(detail.at(-1)!, /PgUp PgDn/, 'the footer names the scrolling keys');
    assert.match(detail.at(-1)!, /Tab/);

    term.type('\t');
    term.type('G');
    await waitFor(
      'the last backends',
      screenHolds(screen, (s) => s.includes(`-5000 of 5000`)),
      5000,
    );
    assertFits(term, size, 'the detail scrolled to the end');
    assert.ok(screen().includes(endpoint(K - 1)) && screen().includes(`huge-${K - 1}`), 'the last endpoint shown');
    term.type('\x1b[5~');
    const pagedUp = new RegExp(`^› ${endpoint(K - 1 - shown).replace(/\./g, '\\.')}\\s+huge-${K - 1 - shown} `, 'm');
    await waitFor(
      'the cursor a page up',
      screenHolds(screen, (s) => pagedUp.test(s)),
      5000,
    );

    term.type('\t');
    const clientsShown = Number(/clients 1-(\d+) of/.exec(screen())![1]);
    term.type('\x1b[6~');
    // The cursor moves a page; the window follows, keeping it in view.
    const from = () => Number(/clients (\d+)-\d+ of/.exec(screen())?.[1] ?? 1);
    await waitFor(
      'a page of clients down',
      screenHolds(screen, (s) => from() > 1 && /^› 10\.50\./m.test(s)),
      5000,
    );
    assert.ok(from() <= clientsShown + 1, 'the window moved by at most a page');
    assertFits(term, size, 'the clients scrolled');

    term.type('?');
    await waitFor(
      'the help',
      screenHolds(screen, (s) => s.includes('Keys')),
      5000,
    );
    assertFits(term, size, 'the help');
    assert.match(screen(), /Tab\s+in a service: switch scrolling/);
    assert.match(screen(), /PgUp PgDn\s+move a page/);
  });
}
