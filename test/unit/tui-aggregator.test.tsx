// The app fed by the real aggregator from synthetic selections whose ground truth
// (backend per selection, deliberate affinity violations) comes from the generator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createState } from '../../src/aggregator/state.js';
import { AggregatorFrameSource } from '../../src/tui/aggregator-source.js';
import { synthesize, type SyntheticService } from '../helpers/tui-events.js';
import { screenHolds, waitFor } from '../helpers/wait.js';

process.env.FORCE_COLOR = '1';
const { render } = await import('ink-testing-library');
const { App } = await import('../../src/tui/app.js');

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

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
  {
    address: '10.96.0.12:53',
    name: 'lab/dns:dns',
    endpoints: ['10.1.3.2:53', '10.1.3.3:53', '10.1.3.4:53', '10.1.3.5:53'],
    timeoutSeconds: null,
  },
];
const { events, truth } = synthesize(services, { durationSeconds: 20, selectionsPerSecond: 200, clients: 40, seed: 7 });

function mount() {
  const source = new AggregatorFrameSource(createState({ windowSeconds: 60 }), 'synthetic');
  source.push(events);
  const app = render(<App source={source} fps={50} />);
  const text = () => plain(app.lastFrame() ?? '');
  const press = async (keys: string, expect: (s: string) => boolean, what: string) => {
    app.stdin.write(keys);
    await waitFor(what, screenHolds(text, expect), 3000);
  };
  return { app, text, press, allOutput: () => plain(app.frames.join('')) };
}

test('each backend share and the violation count match what was generated', async (t) => {
  const { app, text, press } = mount();
  t.after(() => app.unmount());
  await waitFor(
    'the services',
    screenHolds(text, (s) => s.includes('lab/web:http') && s.includes('lab/dns:dns')),
    3000,
  );
  const lines = (app.lastFrame() ?? '').split('\n');
  const web = lines.find((l) => plain(l).includes('lab/web:http'))!;
  const violations = truth.violations.get('10.96.0.10:80/tcp')!;
  assert.ok(violations > 0, 'the generator made violations');
  assert.match(
    web,
    new RegExp(`\\x1b\\[31m(\\x1b\\[\\d+m)*${violations} `),
    `the web row shows ${violations} violations in red`,
  );
  const api = lines.find((l) => plain(l).includes('lab/api:http'))!;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
  assert.doesNotMatch(api, /\x1b\[31m/, 'no affinity, no violations, no red');

  await press('/', (s) => s.includes('filter /'), 'the filter prompt');
  await press('web', (s) => s.includes('filter /web'), 'the filter text');
  await press('\r', (s) => s.includes("filter: 'web'") && !s.includes('lab/api'), 'only web listed');
  await press('\r', (s) => s.includes('BACKEND') && s.includes('web-0'), 'the web detail');
  const counts = truth.backendCounts.get('10.96.0.10:80/tcp')!;
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  for (const [backend, n] of counts) {
    const line = text()
      .split('\n')
      .find((l) => l.trimStart().startsWith(backend))!;
    assert.match(line, new RegExp(`${Math.round((n / total) * 100)}%\\s+${n}$`), `${backend}: ${n} of ${total}`);
  }
  assert.match(text(), new RegExp(`violations ${violations}\\b`));
  assert.match(text(), /affinity ClientIP 30s/);
});

test('the spread verdict: skewed for 3:1 weights, uniform for an even spread', async (t) => {
  const { app, text } = mount();
  t.after(() => app.unmount());
  await waitFor(
    'the services',
    screenHolds(text, (s) => s.includes('lab/api:http')),
    3000,
  );
  const line = (name: string) =>
    text()
      .split('\n')
      .find((l) => l.includes(name))!;
  assert.match(line('lab/api:http'), /skewed p=/);
  assert.match(line('lab/dns:dns'), /uniform/);
  // Random choice among K endpoints keeps the backend 1/K of the time.
  assert.match(line('lab/dns:dns'), /\d+% \(25%\)/);
  assert.match(line('lab/web:http'), /\d+% \(33%\)/);
});

test("a client's picks in the detail match the generated ones", async (t) => {
  const { app, text, press } = mount();
  t.after(() => app.unmount());
  await waitFor(
    'the services',
    screenHolds(text, (s) => s.includes('lab/dns:dns')),
    3000,
  );
  // Sorted by name: api, dns, web; open dns.
  await press('j', (s) => /› lab\/dns/.test(s), 'the cursor on dns');
  await press('\r', (s) => s.includes('CLIENT') && s.includes('dns-0'), 'the dns detail');
  const picks = truth.picks.get('10.96.0.12:53/tcp')!;
  const rows = text()
    .split('\n')
    .filter((l) => /^[ ›] 10\.0\.\d+\.\d+ /.test(l));
  assert.ok(rows.length > 0, 'client rows are shown');
  for (const r of rows) {
    const [, client, n] = /^[ ›] (\S+)\s+\S+\s+(\d+)/.exec(r)!;
    assert.equal(Number(n), picks.get(client!), `picks of ${client}`);
  }
});

test('every generated violation reaches the event log, printed or counted', async (t) => {
  const { app, text, allOutput } = mount();
  t.after(() => app.unmount());
  await waitFor(
    'the log',
    screenHolds(text, (s) => /VIOLATION/.test(s)),
    3000,
  );
  const out = allOutput();
  const printed = new Set(out.split('\n').filter((l) => l.includes('VIOLATION')));
  const skipped = Number(/not printed[^:]*: (\d+) violations/.exec(out)?.[1] ?? 0);
  assert.equal(printed.size + skipped, truth.violationList.length);
  const first = truth.violationList[0]!;
  assert.match(
    out,
    new RegExp(`VIOLATION ${first.client.replace(/\./g, '\\.')} → lab/web:http: ${first.from} → ${first.to}`),
  );
});
