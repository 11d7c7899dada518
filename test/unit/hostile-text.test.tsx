// Event fields carrying terminal escapes (OSC 52 clipboard writes, CSI, C1, BEL) and
// Markdown table breakers reach no terminal or text file raw: the TUI's frames, the md
// report, `trace --format text`, JSON lines, error messages, scenario tables, lab status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, DnatEvent, NodeEvent, StickyEvent } from '../../src/core/event.js';
import { eventToJson, eventToJsonLine, eventToText } from '../../src/core/event-json.js';
import { InputError } from '../../src/core/errors.js';
import { printable, printableJson } from '../../src/core/text.js';
import { createState, applyEvents } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { renderMarkdown } from '../../src/report/render-markdown.js';
import { table } from '../../src/scenarios/format.js';
import { formatStatus } from '../../src/lab/status.js';
import { AggregatorFrameSource } from '../../src/tui/aggregator-source.js';
import { renderAt } from '../helpers/ink-terminal.js';
import { screenHolds, waitFor } from '../helpers/wait.js';
import { dnatEvent } from '../helpers/events.js';

// No colours: then any ESC in a frame is one that came from the events.
process.env.FORCE_COLOR = '0';
const { App } = await import('../../src/tui/app.js');

const OSC52 = '\x1b]52;c;SGFja2Vk\x07';
const CSI = '\x1b[2J\x1b[H';
const C1_CSI = '\u009b6n';
/** Every kind of control at once, a lone surrogate, and what breaks a Markdown table. */
const evil = (tag: string) => `${tag}${OSC52}${CSI}${C1_CSI}\x07\x7f\r\n\ud800\u200b\ufeff\u200d|\`x\``;

/** Raw control characters (C0 but newline, DEL, C1), bidi overrides, unpaired surrogates. */
const RAW =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|[\ud800-\udfff]/u;
const rawIn = (s: string) => {
  const m = RAW.exec(s);
  return m
    ? `U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${m.index}: ${JSON.stringify(s.slice(Math.max(0, m.index - 30), m.index + 10))}`
    : null;
};

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const node = evil('node');
const service = evil('10.96.0.10:80');
const backends = [evil('10.1.1.2:8080'), evil('10.1.1.3:8080')];

function hostileEvents(): StickyEvent[] {
  const catalog: CatalogEvent = {
    type: 'catalog',
    ts: T0,
    node,
    services: [
      {
        service: `${service}/tcp`,
        name: evil('ns/web:http'),
        affinity: { mode: 'ClientIP', timeoutSeconds: 60, source: 'rules' },
        endpoints: backends,
        pods: Object.fromEntries(backends.map((b, i) => [b, evil(`pod-${i}`)])),
      },
    ],
  };
  const pick = (i: number, client: string, backend: string): DnatEvent =>
    dnatEvent({
      ts: T0 + 1000 + i * 100_000,
      node,
      client: `${client}:${40000 + i}`,
      service,
      backend,
      ctId: i.toString(16).padStart(16, '0'),
      serviceName: evil('svc-name'),
      backendPod: evil('backend-pod'),
    });
  const client = evil('10.0.0.7');
  // The second pick moves within the timeout: an affinity violation, printed in the TUI's log.
  const down: NodeEvent = { type: 'node', ts: T0 + 900_000, node, state: 'down', reason: evil('reason') };
  return [
    catalog,
    pick(1, client, backends[0]!),
    pick(2, client, backends[1]!),
    pick(3, evil('10.0.0.8'), backends[0]!),
    down,
  ];
}

test('printable escapes ESC, BEL, C1, DEL and lone surrogates visibly, and leaves text alone', () => {
  assert.equal(printable(`a${OSC52}b`), 'a\\x1b]52;c;SGFja2Vk\\x07b');
  assert.equal(printable('\u009b6n\x7f\t'), '\\x9b6n\\x7f\\x09');
  assert.equal(printable('x\ud800y\udfffz'), 'x\ufffdy\ufffdz');
  assert.equal(printable('\u202eevil'), '\\u202eevil');
  // Invisible characters make look-alike names ('lab/web' and 'lab/w\u200beb'): shown, like U+202E.
  assert.equal(printable('lab/w\u200beb\ufeff\u200d'), 'lab/w\\u200beb\\ufeff\\u200d');
  assert.equal(printableJson('"w\u200beb"'), '"w\\u200beb"');
  const fine = 'lab/web:http 10.1.1.2:8080 ünïcødé 漢字 😀 →';
  assert.equal(printable(fine), fine);
  assert.equal(printable(printable(evil('x'))), printable(evil('x')), 'idempotent');
});

test('the TUI shows hostile names escaped: no raw control character in any frame', async (t) => {
  const source = new AggregatorFrameSource(createState({ windowSeconds: 3600 }), evil('replay'));
  source.push(hostileEvents());
  source.note('warning', evil('a damaged trace'));
  const term = renderAt(<App source={source} fps={50} />, { columns: 160, rows: 40 });
  t.after(() => term.unmount());
  const screen = () => term.frame();
  await waitFor(
    'the service row',
    screenHolds(screen, (s) => s.includes('ns/web:http')),
    5000,
  );
  term.type('\r');
  await waitFor(
    'the detail with its clients',
    screenHolds(screen, (s) => s.includes('CLIENT') && s.includes('pod-1')),
    5000,
  );
  await waitFor(
    'the event log',
    screenHolds(screen, (s) => s.includes('VIOLATION') && s.includes('NODE DOWN')),
    5000,
  );
  for (const [i, f] of term.frames.entries()) assert.equal(rawIn(f), null, `frame ${i}`);
  const last = screen();
  assert.ok(last.includes('\\x1b]52;c;SGFja2Vk\\x07'), 'the OSC 52 shown as text');
  assert.ok(last.includes('\\x9b6n'), 'the C1 CSI shown as text');
});

/** Cells of a Markdown table row, split at pipes not escaped by a backslash. */
function cells(line: string): string[] {
  const out = [''];
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\') out[out.length - 1] += line[i]! + (line[++i] ?? '');
    else if (line[i] === '|') out.push('');
    else out[out.length - 1] += line[i]!;
  }
  return out;
}

test('the md report carries no raw controls, and crafted names cannot break its tables', () => {
  const state = createState({ windowSeconds: 3600 });
  applyEvents(state, hostileEvents());
  const md = renderMarkdown(buildReport(state, { scope: 'cumulative' }));
  assert.equal(rawIn(md), null);
  const lines = md.split('\n');
  let head = 0;
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith('|')) {
      head = 0;
      continue;
    }
    const n = cells(line).length;
    if (head === 0) head = n;
    else assert.equal(n, head, `line ${i} has as many cells as its table's head: ${line}`);
    for (const c of cells(line)) assert.doesNotMatch(c.replace(/\\./g, ''), /[`<>*_[\]]/, `unescaped markup in '${c}'`);
  }
  assert.ok(
    lines.some((l) => l.includes('pod') || l.includes('10.0.0.7')),
    'the hostile rows are there',
  );
  assert.ok(md.includes(String.raw`| 10.0.0.7\\x1b\]52;c;`), 'the client shown escaped');
});

test('trace text lines and JSON lines carry no raw controls; JSON keeps the values', () => {
  for (const e of hostileEvents()) {
    const text = eventToText(e);
    assert.equal(rawIn(text), null, text);
    assert.ok(!text.includes('\n'), 'one line');
    const json = eventToJsonLine(e);
    assert.equal(rawIn(json), null, json);
    assert.deepEqual(JSON.parse(json), eventToJson(e), 'the same JSON value');
  }
  assert.equal(printableJson(JSON.stringify({ a: '\u0085\u009b\x7f' })), '{"a":"\\u0085\\u009b\\u007f"}');
});

test('error messages, scenario tables and lab status echo input escaped', () => {
  assert.equal(rawIn(new InputError(`not a trace: found ${evil('bytes')}`).message), null);
  const lines = table(['client', 'backend'], [[evil('10.0.0.7'), 3]]);
  assert.equal(rawIn(lines.join('\n')), null);
  const widths = new Set(lines.map((l) => l.length));
  assert.equal(widths.size, 1, 'columns stay aligned');
  const lab = { prefix: evil('p'), stateDir: evil('/tmp/state') } as never;
  const status = formatStatus(lab, {
    mode: evil('nftables mode'),
    ipFamilies: [evil('IPv4')],
    namespaces: [{ name: evil('ns'), present: true }],
    backends: [{ name: evil('b1'), pid: 1, alive: true }],
    services: [
      {
        name: evil('web'),
        address: '10.96.0.10:80/tcp',
        affinity: 'None',
        endpoints: [
          { node: node, chain: evil('KUBE-SEP'), endpoint: evil('10.1.1.2:8080'), pod: evil('b1'), connections: 2 },
        ],
      },
    ],
  });
  assert.equal(rawIn(status), null);
});
