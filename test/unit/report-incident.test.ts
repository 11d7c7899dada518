// Reports to paste into an incident document (issue 27): findings with their next step first, the command, nodes and
// span at the top, violations in the HTML summary, endpoint changes on the timeline, and no noise (zero eviction lines,
// cards of an idle Service, empty client tables). Hand-built events whose verdicts are known: client 10.0.0.1 is
// evicted from endpoint A's full xt_recent list, then re-picked to B within the timeout (one listFull violation);
// endpoint C leaves and D joins at T0 + 6 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, ServiceInfo, StickyEvent } from '../../src/core/event.js';
import { reportFromEvents, type ReportFormat } from '../../src/report/from-file.js';
import type { Report } from '../../src/report/types.js';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dnatEvent } from '../helpers/events.js';
import { runCli } from '../helpers/cli.js';

const T0 = Date.UTC(2026, 11, 7, 14, 0, 0) * 1000;
const S = 1e6;
const STICKY = '10.96.0.11:80';
const IDLE = '10.96.0.20:80';
const [A, B, C, D] = ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080', '10.1.4.2:8080'];
const COMMAND = 'stickyscope report capture.trace -o md';

const sticky = (endpoints: string[]): ServiceInfo => ({
  service: `${STICKY}/tcp`,
  name: 'lab/sticky:http',
  affinity: { mode: 'ClientIP', timeoutSeconds: 30, source: 'rules' },
  endpoints,
});
const catalog = (ts: number, endpoints: string[]): CatalogEvent => ({
  type: 'catalog',
  ts,
  node: 'n1',
  services: [
    sticky(endpoints),
    {
      service: `${IDLE}/tcp`,
      name: 'lab/idle:http',
      affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
      endpoints: ['10.1.9.2:8080', '10.1.9.3:8080', '10.1.9.4:8080'],
    },
  ],
});
const pick = (ts: number, client: string, backend: string) =>
  dnatEvent({ ts, node: 'n1', client: `${client}:40000`, service: STICKY, backend });

const events: StickyEvent[] = [
  catalog(T0, [A, B, C]),
  pick(T0 + S, '10.0.0.1', A),
  pick(T0 + S + 1, '10.0.0.2', A),
  pick(T0 + S + 2, '10.0.0.3', C),
  {
    type: 'evicted',
    ts: T0 + 2 * S,
    since: T0 + S + 10,
    node: 'n1',
    list: 'KUBE-SEP-AAAA',
    endpoint: A,
    client: '10.0.0.1',
    capacity: 100,
  },
  pick(T0 + 5 * S, '10.0.0.1', B),
  catalog(T0 + 6 * S, [A, B, D]),
  pick(T0 + 8 * S, '10.0.0.2', A),
];

async function render(format: ReportFormat): Promise<string> {
  const batches = (async function* () {
    yield events;
  })();
  return reportFromEvents(batches, { format, command: COMMAND });
}

test('the JSON lists findings: the listFull violation first, with its next step in kube-proxy and kernel terms', async () => {
  const r = JSON.parse(await render('json')) as Report;
  assert.equal(r.command, COMMAND);
  const s = r.services.find((x) => x.name === 'lab/sticky:http')!;
  assert.deepEqual(s.affinityVerdicts.violationCauses, { listFull: 1, setFull: 0, crossFrontend: 0, unknown: 0 });
  const first = r.findings![0]!;
  assert.deepEqual(
    { kind: first.kind, service: first.service, cause: first.cause, count: first.count },
    { kind: 'violations', service: 'lab/sticky:http', cause: 'listFull', count: 1 },
  );
  assert.equal(
    first.text,
    'lab/sticky:http: 1 affinity violation, cause listFull: the xt_recent affinity list is full and evicted clients before their timeout',
  );
  assert.match(first.next, /raise xt_recent's ip_list_tot .* or shorten timeoutSeconds \(30 s now\)$/);
  assert.ok(
    r.findings!.every((f) => f.service !== 'lab/idle:http'),
    'an idle Service without refusal is no finding',
  );
});

test('Markdown: command, nodes and span at the top, findings before the tables, no zero lines or empty tables', async () => {
  const md = await render('md');
  const lines = md.split('\n');
  assert.deepEqual(lines.slice(0, 5), [
    '# stickyscope report',
    '',
    `- Command: ${COMMAND}`,
    '- Nodes: n1',
    '- Events counted (cumulative): 2026-12-07T14:00:01.000000Z to 2026-12-07T14:00:08.000000Z',
  ]);
  const findings = md.indexOf('## Findings');
  assert.ok(findings > 0 && findings < md.indexOf(`## ${STICKY}/tcp`), 'findings come before the first Service');
  assert.match(
    md,
    /^- lab\/sticky:http: 1 affinity violation, cause listFull: the xt\\_recent affinity list is full .*; raise xt\\_recent's ip\\_list\\_tot/m,
  );
  assert.doesNotMatch(md, /Entries evicted to bound memory/, 'nothing was evicted: no line of zeros');
  const idle = md.slice(md.indexOf(`## ${IDLE}/tcp`));
  assert.doesNotMatch(idle, /\| Client \|/, 'no client table for a Service without clients');
  assert.match(md.slice(md.indexOf(`## ${STICKY}/tcp`), md.indexOf(`## ${IDLE}/tcp`)), /\| Client \|/);
});

test('HTML: findings card, violations in the summary, the endpoint change on the timeline, an idle Service in one line', async () => {
  const html = await render('html');
  assert.match(html, /<b>Command<\/b> <code>stickyscope report capture\.trace -o md<\/code>/);
  assert.ok(html.indexOf('<b>Command</b>') < html.indexOf('<b>Nodes</b>'));
  assert.ok(html.indexOf('<b>Nodes</b>') < html.indexOf('<b>Events counted'));
  assert.match(
    html,
    /<li data-finding="violations" data-cause="listFull">lab\/sticky:http: 1 affinity violation, cause listFull/,
  );
  assert.ok(html.indexOf('id="findings"') < html.indexOf('<h2>Services</h2>'), 'findings before the summary table');
  assert.match(html, /<th class="num">Violations<\/th>/);
  assert.match(html, /<td class="num bad" data-violations="1">1 <span class="explain">listFull<\/span><\/td>/);
  const section = (key: string) => {
    const at = html.indexOf(`data-service="${key}"`);
    return html.slice(at, html.indexOf('</section>', at));
  };
  const marks = [...section(`${STICKY}/tcp`).matchAll(/<line [^>]*data-chart="timeline-endpoints"[^>]*>/g)];
  assert.equal(marks.length, 1, 'one endpoint change');
  assert.match(marks[0]![0], /data-added="1" data-removed="1"/);
  assert.match(section(`${STICKY}/tcp`), /endpoints \+1 \u22121/);
  const idle = section(`${IDLE}/tcp`);
  assert.match(idle, /data-idle="true"/);
  assert.match(idle, /no selections in this span, 3 backends never picked\./);
  assert.doesNotMatch(idle, /<svg/, 'no charts for an idle Service');
});

test('report states the command line it was given, quoted where a shell would split it', async (t) => {
  const fixture = fileURLToPath(new URL('../../../test/fixtures/traces/main-a291fe8.trace', import.meta.url));
  const dir = await mkdtemp(join(tmpdir(), 'ss-incident-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, "it's here.trace");
  await copyFile(fixture, trace);
  const r = await runCli(['report', trace, '-o', 'md', '--service', 'lab/web', '--until', '2026-12-07T13:00:00Z']);
  assert.equal(r.code, 0, r.stderr);
  const quoted = `'${dir}/it'\\''s here.trace'`;
  assert.equal(
    r.stdout.split('\n')[2],
    `- Command: stickyscope report ${quoted} -o md --service lab/web --until 2026-12-07T13:00:00Z`.replace(
      /[\\`*_[\]<>|&~]/g,
      '\\$&',
    ),
    'in Markdown, escaped as every text from outside is',
  );
  const json = await runCli(['report', trace]);
  assert.equal(JSON.parse(json.stdout).command, `stickyscope report ${quoted}`);
});
