// --service: two agents asked for one Service send only its flows (counted on the wire, before any client-side
// handling), and the filtered report and recording hold the same numbers for it as the unfiltered report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../../src/core/event.js';
import { subscribeAgents } from '../../src/protocol/client.js';
import { recordAgents } from '../../src/record/recorder.js';
import { readTrace } from '../../src/record/trace-reader.js';
import { reportFromAgents } from '../../src/report/from-file.js';
import type { Report } from '../../src/report/types.js';
import { isServiceSpec, parseServices } from '../../src/cli/service-option.js';
import { UsageError } from '../../src/core/errors.js';
import { nearNames } from '../../src/core/service-scope.js';
import { FakeSource, sleep } from '../helpers/agent-fake-source.js';
import { runCli } from '../helpers/cli.js';
import { waitFor, atLeast } from '../helpers/wait.js';

const WEB = '10.96.0.10:80';
const DB = '10.96.0.20:5432';

test('--service accepts addresses with a protocol and Service names, and refuses the rest as usage errors', () => {
  for (const ok of ['10.96.0.10:80/tcp', '[fd00::10]:53/udp', 'lab/web', 'lab/web:http', 'kube-system/kube-dns:53'])
    assert.ok(isServiceSpec(ok), ok);
  for (const bad of [
    '',
    'web',
    '10.96.0.10:80',
    '10.96.0.10:99999/tcp',
    '[10.0.0.1]:80/tcp',
    '1.2.3.4:80/icmp',
    'a/b/c',
    '/web',
    `a/${'x'.repeat(200)}`,
  ])
    assert.ok(!isServiceSpec(bad), bad);
  assert.throws(() => parseServices({ service: ['lab/web', 'oops'] }), UsageError);
  assert.equal(parseServices({}), undefined);
  assert.deepEqual(parseServices({ service: ['lab/web', 'lab/web'] }), ['lab/web']);
});

test('near matches of an unknown Service name: the same name in another namespace, then close spellings', () => {
  const names = ['prod/web:http', 'lab/db:pg', 'lab/webb:http', 'kube-system/kube-dns:dns'];
  assert.deepEqual(nearNames('lab/web', names), ['prod/web:http', 'lab/webb:http']);
  assert.deepEqual(nearNames('lab/zzzzzzzz', names), []);
});

test('two agents asked for one Service send only its flows; report and recording match the unfiltered rows', {
  timeout: 60_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-svcopt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const nodes = ['n1', 'n2'];
  const sources = nodes.map(() => new FakeSource());
  const servers = nodes.map((node, i) => getServer(sources[i]!, { node }));
  const addrs = await Promise.all(servers.map((s) => s.bind('127.0.0.1:0')));
  t.after(() => Promise.all(servers.map((s) => s.close())));

  const stop = new AbortController();
  t.after(() => stop.abort());
  const trace = join(dir, 'web.trace');
  const warnings: string[] = [];
  const recording = recordAgents(addrs, trace, {
    signal: stop.signal,
    services: ['lab/web', 'lab/wbe'],
    onWarning: (m) => warnings.push(m),
  });
  const opts = { format: 'json' as const, windowSeconds: 60, durationMs: 50_000, signal: stop.signal };
  const filtered = reportFromAgents(addrs, { ...opts, services: [`${WEB}/tcp`] });
  const unfiltered = reportFromAgents(addrs, opts);
  // What the agents send to a filtered subscriber, counted as it arrives.
  const wire: StickyEvent[] = [];
  const raw = (async () => {
    for await (const b of subscribeAgents(addrs, { signal: stop.signal, filter: { services: ['lab/web:http'] } }))
      wire.push(...b);
  })();
  await waitFor(
    'every client to subscribe to both agents',
    () => servers.every((s) => s.info().subscribers === 4),
    10_000,
  );

  const t0 = Date.now() * 1000 + 600e6;
  let webSent = 0;
  for (const [i, node] of nodes.entries()) {
    const catalog: CatalogEvent = {
      type: 'catalog',
      ts: t0,
      node,
      services: [
        {
          service: `${WEB}/tcp`,
          name: 'lab/web:http',
          affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
          endpoints: ['10.1.1.2:8080', '10.1.1.3:8080'],
        },
        {
          service: `${DB}/tcp`,
          name: 'lab/db:pg',
          affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
          endpoints: ['10.1.2.2:5432'],
        },
      ],
    };
    const flows: DnatEvent[] = Array.from({ length: 600 }, (_, k) => {
      const web = k % 3 !== 0;
      if (web) webSent++;
      return {
        type: 'dnat',
        ts: t0 + 1000 + k * 10_000,
        node,
        proto: 'tcp',
        client: `10.0.${i}.${k % 20}:${30000 + k}`,
        service: web ? WEB : DB,
        backend: web ? (k % 2 ? '10.1.1.2:8080' : '10.1.1.3:8080') : '10.1.2.2:5432',
        hook: 'prerouting',
        serviceName: web ? 'lab/web:http' : 'lab/db:pg',
        ctId: `${node}-${k}`,
      };
    });
    sources[i]!.emitEvents([catalog]);
    for (let k = 0; k < flows.length; k += 200) {
      sources[i]!.emitEvents(flows.slice(k, k + 200));
      await sleep(5);
    }
  }
  const flowsOf = (es: StickyEvent[]) => es.filter((e) => e.type === 'dnat') as DnatEvent[];
  await waitFor('the filtered subscriber to have every web flow', () => atLeast(flowsOf(wire).length, webSent), 20_000);
  await sleep(800); // the reporters' merge delay
  stop.abort();
  const [f, u] = await Promise.all([filtered, unfiltered, recording, raw]);

  const sentFlows = flowsOf(wire);
  assert.equal(sentFlows.length, webSent, 'the agents sent exactly the web flows');
  assert.ok(
    sentFlows.every((e) => e.service === WEB),
    'no other Service crossed the wire',
  );
  assert.equal(wire.filter((e) => e.type === 'catalog').length, 2, 'both catalogs still arrive');
  assert.ok(
    wire.some((e) => e.type === 'node'),
    'node events still arrive',
  );

  const fr = JSON.parse(f) as Report;
  const ur = JSON.parse(u) as Report;
  assert.deepEqual(
    fr.services.map((s) => s.service),
    [`${WEB}/tcp`],
  );
  assert.ok(
    ur.services.some((s) => s.service === `${DB}/tcp`),
    'the unfiltered report has the other Service',
  );
  assert.deepEqual(
    fr.services[0],
    ur.services.find((s) => s.service === `${WEB}/tcp`),
  );

  const back: StickyEvent[] = [];
  for await (const b of readTrace(trace)) back.push(...b);
  const recorded = flowsOf(back);
  assert.equal(recorded.length, webSent);
  assert.ok(recorded.every((e) => e.service === WEB));
  const catalogs = back.filter((e) => e.type === 'catalog');
  assert.equal(catalogs.length, 2);
  assert.deepEqual(
    catalogs.flatMap((c) => c.services.map((s) => s.service)),
    [`${WEB}/tcp`, `${WEB}/tcp`],
    'the recorded catalogs hold only the Service asked for',
  );
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /--service lab\/wbe: no Service of that name .*near matches: lab\/web:http/);
});

test('a malformed --service, or --service with --summaries, is a usage error (exit 2) on every command', async () => {
  const runs = [
    ['record', '--agent', '127.0.0.1:1', '-w', join(tmpdir(), 'never.trace'), '--service', 'web'],
    ['report', '--agent', '127.0.0.1:1', '--duration', '1s', '--service', '10.0.0.1:80'],
    ['tui', '--agent', '127.0.0.1:1', '--service', '\u001b[31m/x'],
    ['report', 'some.trace', '--service', 'lab web'],
    ['report', '--agent', '127.0.0.1:1', '--duration', '1s', '--summaries', '--service', 'lab/web'],
    ['tui', '--replay', 'some.trace', '--service', '10.0.0.1:99999/tcp'],
  ];
  await Promise.all(
    runs.map(async (args) => {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--service/);
      assert.ok(!r.stderr.includes('\u001b'), 'the bad entry is echoed printable');
    }),
  );
});

test('report --agent --service naming no Service of any agent fails at once with exit 2 and near matches', {
  timeout: 30_000,
}, async (t) => {
  const nodes = ['n1', 'n2'];
  const sources = nodes.map(() => new FakeSource());
  const servers = nodes.map((node, i) => getServer(sources[i]!, { node }));
  const addrs = await Promise.all(servers.map((s) => s.bind('127.0.0.1:0')));
  t.after(() => Promise.all(servers.map((s) => s.close())));
  const catalog = (node: string): StickyEvent => ({
    type: 'catalog',
    ts: Date.now() * 1000,
    node,
    services: [
      {
        service: `${WEB}/tcp`,
        name: 'lab/web:http',
        affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
        endpoints: ['10.1.1.2:8080'],
      },
    ],
  });
  // An agent sends its catalog to each new subscriber: emitted until the report has connected.
  const ticking = setInterval(() => {
    for (const [i, s] of sources.entries()) s.emit('events', [catalog(nodes[i]!)]);
  }, 100);
  t.after(() => clearInterval(ticking));
  const started = Date.now();
  const args = ['report', ...addrs.flatMap((a) => ['--agent', a]), '--duration', '1h', '--service', 'lab/wbe'];
  const r = await runCli(args);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--service lab\/wbe matches no Service of the 2 agents; near matches: lab\/web:http/);
  assert.ok(Date.now() - started < 20_000, 'it did not listen for the duration');
});
