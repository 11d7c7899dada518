// The HTML report, rendered by a real browser (Debian's chromium, headless): every chart
// is there, the page's own check passed, and drawn bars match counts chosen here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { skip } from '../helpers/env.js';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CatalogEvent, StickyEvent } from '../../src/core/event.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { reportFromFile } from '../../src/report/from-file.js';

const CHROMIUM = '/usr/bin/chromium';
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const WEB = '10.96.0.10:80';
const DNS = '10.96.0.53:53';
/** Selections per backend of WEB: uneven on purpose; the fourth endpoint is never picked. */
const webCounts: Record<string, number> = {
  '10.1.1.2:8080': 300,
  '10.1.1.3:8080': 150,
  '10.1.1.4:8080': 50,
  '10.1.1.5:8080': 0,
};
const dnsCounts: Record<string, number> = { '10.1.2.2:53': 120, '10.1.2.3:53': 120 };

function events(): StickyEvent[] {
  const catalog: CatalogEvent = {
    type: 'catalog',
    ts: T0,
    node: 'lab-node',
    services: [
      {
        service: `${WEB}/tcp`,
        name: 'lab/web:http',
        affinity: { mode: 'ClientIP', timeoutSeconds: 30, source: 'rules' },
        endpoints: Object.keys(webCounts),
      },
      {
        service: `${DNS}/udp`,
        name: 'kube-system/kube-dns:dns',
        affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
        endpoints: Object.keys(dnsCounts),
      },
    ],
  };
  const out: StickyEvent[] = [catalog];
  let k = 0;
  const picks: [string, 'tcp' | 'udp', string][] = [];
  for (const [b, n] of Object.entries(webCounts)) for (let i = 0; i < n; i++) picks.push([WEB, 'tcp', b]);
  for (const [b, n] of Object.entries(dnsCounts)) for (let i = 0; i < n; i++) picks.push([DNS, 'udp', b]);
  // Interleave deterministically over ten minutes, clients 0..19.
  picks.sort((a, b) => hash(a[2] + picks.indexOf(a)) - hash(b[2] + picks.indexOf(b)));
  for (const [service, proto, backend] of picks) {
    out.push({
      type: 'dnat',
      ts: T0 + 1 + k * 750_000,
      node: 'lab-node',
      proto,
      client: `10.0.1.${k % 20}:${40000 + k}`,
      service,
      backend,
      hook: 'prerouting',
      ctId: k.toString(16),
    });
    // The agent of lab-node was unreachable for a while: the page shades that span.
    if (k === 100)
      out.push({ type: 'node', ts: T0 + 2 + k * 750_000, node: 'lab-node', state: 'down', reason: 'stream failed' });
    if (k === 160) out.push({ type: 'node', ts: T0 + 2 + k * 750_000, node: 'lab-node', state: 'up' });
    k++;
  }
  return out;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Runs chromium headless in its own process group, killed whole on timeout. */
function chromium(
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CHROMIUM, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      reject(new Error(`chromium did not finish within ${timeoutMs} ms: ${stderr.slice(-500)}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const attrs = (tag: string) => Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
/** The opening tags of elements with data-chart="name" inside the section of `service`. */
function chartTags(dom: string, service: string, name: string): Record<string, string>[] {
  const start = dom.indexOf(`data-service="${service}"`);
  assert.ok(start >= 0, `section of ${service} in the page`);
  const end = dom.indexOf('</section>', start);
  return [...dom.slice(start, end).matchAll(new RegExp(`<[a-z]+ [^>]*data-chart="${name}"[^>]*>`, 'g'))].map((m) =>
    attrs(m[0]),
  );
}

test('the HTML report is one self-contained file with every chart', { timeout: 20_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-html-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, 'r.trace');
  const w = await TraceWriter.open(trace);
  await w.append(events());
  await w.close();
  const html = await reportFromFile(trace, { format: 'html' });
  assert.doesNotMatch(
    html,
    /<script[^>]+src=|<link[^>]+href=|https?:\/\/|@import|url\(/,
    'nothing loaded from elsewhere',
  );
  for (const service of [`${WEB}/tcp`, `${DNS}/udp`]) {
    for (const chart of ['share', 'stickiness', 'timeline', 'verdicts', 'clients'])
      assert.equal(chartTags(html, service, chart).length, 1, `${service} ${chart}`);
  }
  assert.equal(chartTags(html, `${WEB}/tcp`, 'share-bar').length, 4, 'a bar for every endpoint, the unpicked one too');
  const timelineTotal = chartTags(html, `${WEB}/tcp`, 'timeline-bar').reduce(
    (n, a) => n + Number(a['data-selections']),
    0,
  );
  assert.equal(timelineTotal, 500, 'the timeline holds every selection of the service');
  const gaps = chartTags(html, `${WEB}/tcp`, 'timeline-gap');
  assert.deepEqual(
    gaps.map((g) => g['data-node']),
    ['lab-node'],
    'the span the node was missing is shaded',
  );
  const plot = chartTags(html, `${WEB}/tcp`, 'timeline-bar');
  const left = Math.min(...plot.map((b) => Number(b.x)));
  const right = Math.max(...plot.map((b) => Number(b.x) + Number(b.width)));
  // 60 of the 740 selections' time (0.75 s apart) out of the whole span, give or take a bucket.
  assert.ok(
    Math.abs(Number(gaps[0]!.width) / (right - left) - 60 / 740) < 0.03,
    `gap width ${gaps[0]!.width} of ${right - left}`,
  );
});

test('a Service of 5,000 backends and 100,000 node gaps: the HTML report is drawn, top backends and one "others"', {
  timeout: 60_000,
}, async () => {
  const T0 = Date.UTC(2026, 11, 7, 11) * 1000;
  const endpoints = Array.from({ length: 5000 }, (_, i) => `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}:8080`);
  const catalog: CatalogEvent = {
    type: 'catalog',
    ts: T0,
    node: 'n',
    services: [
      {
        service: '10.96.0.10:80/tcp',
        name: 'big/many:http',
        affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
        endpoints,
      },
    ],
  };
  const flows: StickyEvent[] = Array.from({ length: 150_000 }, (_, i) => ({
    type: 'dnat',
    ts: T0 + 1000 + i * 200,
    node: 'n',
    proto: 'tcp',
    client: `10.0.${(i >> 8) & 255}.${i & 255}:${30000 + (i % 30000)}`,
    service: '10.96.0.10:80',
    backend: endpoints[i % 5000]!,
    hook: 'prerouting',
    ctId: i.toString(16),
  }));
  const gaps: StickyEvent[] = Array.from({ length: 200_000 }, (_, g) => ({
    type: 'node',
    ts: T0 + 30_000_000 + g * 2,
    node: 'n',
    state: g % 2 ? 'up' : 'down',
  }));
  const { reportFromEvents } = await import('../../src/report/from-file.js');
  const html = await reportFromEvents(
    (async function* () {
      yield [catalog, ...flows.slice(0, 75_000)];
      yield flows.slice(75_000);
      yield gaps;
    })(),
    { format: 'html' },
  );
  const bars = chartTags(html, '10.96.0.10:80/tcp', 'share-bar');
  assert.equal(bars.length, 30, '29 busiest backends and one bar for the rest');
  assert.equal(bars.at(-1)!['data-backend'], '4971 others');
  assert.equal(
    bars.reduce((n, b) => n + Number(b['data-selections']), 0),
    150_000,
    'the bars still hold every selection',
  );
  const series = new Set(chartTags(html, '10.96.0.10:80/tcp', 'timeline-bar').map((b) => b['data-backend']));
  assert.ok(series.size <= 12, `${series.size} timeline series`);
  assert.ok(chartTags(html, '10.96.0.10:80/tcp', 'timeline-gap').length <= 200, 'gaps merged to what can be seen');
});

test('chromium renders the report: charts drawn, bar widths follow the counts, no script errors', {
  timeout: 120_000,
}, async (t) => {
  if (!existsSync(CHROMIUM)) {
    skip(t, `${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-html-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, 'r.trace');
  const w = await TraceWriter.open(trace);
  await w.append(events());
  await w.close();
  const page = join(dir, 'report.html');
  await writeFile(page, await reportFromFile(trace, { format: 'html' }));
  const common = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${join(dir, 'profile')}`,
  ];

  const { stdout: dom, code } = await chromium([...common, '--dump-dom', `file://${page}`]);
  assert.equal(code, 0);
  assert.match(
    dom,
    /<body[^>]*data-rendered="ok"/,
    `the page's own check: ${/data-rendered="([^"]*)"/.exec(dom)?.[1]}`,
  );
  for (const service of [`${WEB}/tcp`, `${DNS}/udp`]) {
    for (const chart of ['share', 'stickiness', 'timeline', 'verdicts'])
      assert.equal(chartTags(dom, service, chart).length, 1, `${service}: ${chart} chart`);
  }
  // Share bars: widths proportional to the counts chosen above, zero for the unpicked endpoint.
  const bars = chartTags(dom, `${WEB}/tcp`, 'share-bar');
  const width = Object.fromEntries(bars.map((b) => [b['data-backend']!, Number(b.width)]));
  assert.deepEqual(Object.keys(width).sort(), Object.keys(webCounts).sort());
  assert.equal(width['10.1.1.5:8080'], 0);
  assert.ok(width['10.1.1.2:8080']! > 0);
  assert.ok(Math.abs(width['10.1.1.3:8080']! / width['10.1.1.2:8080']! - 150 / 300) < 0.01);
  assert.ok(Math.abs(width['10.1.1.4:8080']! / width['10.1.1.2:8080']! - 50 / 300) < 0.01);
  // The even-share line sits at 1/K of the four endpoints.
  assert.equal(Number(chartTags(dom, `${WEB}/tcp`, 'share-fair-line')[0]!['data-share']), 0.25);
  const dnsBars = chartTags(dom, `${DNS}/udp`, 'share-bar');
  assert.equal(dnsBars.length, 2);
  assert.equal(dnsBars[0]!.width, dnsBars[1]!.width, 'equal counts, equal bars');

  const png = join(dir, 'report.png');
  const shot = await chromium([...common, `--screenshot=${png}`, '--window-size=1200,2000', `file://${page}`]);
  assert.equal(shot.code, 0);
  assert.ok((await stat(png)).size > 20_000, 'a screenshot with something drawn in it');
  if (process.env.STICKYSCOPE_KEEP_SCREENSHOT)
    await writeFile(process.env.STICKYSCOPE_KEEP_SCREENSHOT, await readFile(png));
});
