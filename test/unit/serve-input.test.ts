// `stickyscope serve` against bad input: an unreachable agent, an agent that cuts a
// message in half, malformed and out-of-range queries, and SIGTERM; and against 2,000
// Services with --metrics-max-services 100 (the events sent are the ground truth).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer as createNetServer } from 'node:net';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import type { CatalogEvent, DnatEvent, ServiceInfo } from '../../src/core/event.js';
import { getServer } from '../../src/agent/server.js';
import { infoMethod } from '../../src/protocol/service-def.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { sample, startServe } from '../helpers/serve.js';
import { waitFor, equals, atLeast, NotYet } from '../helpers/wait.js';

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function grpcFrame(payload: Buffer, claimed = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(claimed, 1);
  return Buffer.concat([head, payload]);
}

/** Answers Info, then for Subscribe sends headers and half of a message, and ends the stream. */
async function halfMessageAgent(): Promise<{ address: string; subscribes: () => number; server: Http2Server }> {
  let subscribes = 0;
  const server = createH2Server();
  server.on('stream', (stream, headers) => {
    const path = headers[':path'];
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc' },
      { waitForTrailers: path === infoMethod.path },
    );
    if (path === infoMethod.path) {
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      const info = infoMethod.responseSerialize({
        nodeName: 'half-node',
        kernelRelease: 'test',
        attachPoints: [],
        counters: null,
        lostEvents: 0,
        subscribers: 0,
        subscriberLost: 0,
        services: 0,
        limits: {
          rejectedSubscribers: 0,
          invalidFilters: 0,
          oversizedMessages: 0,
          stalledSubscribers: 0,
          pingFloods: 0,
        },
        maxSubscribers: 16,
        proxyMode: 'iptables',
      });
      stream.end(grpcFrame(info));
      return;
    }
    subscribes++;
    stream.write(grpcFrame(Buffer.alloc(10, 0x0a), 1000));
    setTimeout(() => stream.close(), 50);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, subscribes: () => subscribes, server };
}

async function fakeAgent(t: import('node:test').TestContext, node: string) {
  const source = new FakeSource();
  const agent = getServer(source, { node });
  const address = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  return { source, address, subscribers: () => agent.info().subscribers };
}

test('serve: unreachable and half-message agents, bad queries, no data yet: 4xx/503 with a reason, never a crash', async (t) => {
  const dead = `127.0.0.1:${await closedPort()}`;
  const half = await halfMessageAgent();
  t.after(() => new Promise((r) => half.server.close(r)));
  const serve = await startServe(t, ['--agent', dead, '--agent', half.address]);

  // No events yet: a report would describe no time at all.
  const early = await serve.get('/report.json');
  assert.equal(early.status, 503, early.text);
  assert.ok(early.headers.get('retry-after'), 'a 503 says when to retry');
  assert.match(early.text, /no events received yet/);

  await waitFor('serve to resubscribe after the stream was cut', () => atLeast(half.subscribes(), 2), 10_000);
  // The cut stream is a `down` with the reason, then a retry (it cycles up and down: no instant state to assert).
  await serve.run.waitFor(/agent .* \(half-node\) down: stream from half-node .* failed: .+/);
  const ready = await serve.get('/readyz');
  assert.equal(ready.status, 503, ready.text);
  assert.ok(
    ready.text.includes(dead) && /unreachable/.test(ready.text),
    `readyz names the unreachable agent: ${ready.text}`,
  );
  assert.equal(ready.headers.get('retry-after'), '2');
  assert.equal((await serve.get('/healthz')).status, 200);

  const metrics = await serve.get('/metrics');
  assert.equal(metrics.status, 200);
  assert.equal(sample(metrics.text, 'stickyscope_agent_up', { agent: dead }), 0);

  const bad: [string, number, RegExp][] = [
    ['/report.html?window=-1', 400, /window expects a duration like 5m or 'all'; got '-1'/],
    ['/report.json?window=%zz', 400, /malformed query string/],
    ['/report.json?window=1m&window=5m', 400, /given twice/],
    ['/report.md?window=7m', 400, /window 7m is not kept; expected one of 1m, 5m, all/],
    ['/report.json?windw=1m', 400, /unknown query parameter 'windw'/],
    ['/metrics?x=1', 400, /takes no query parameter/],
    ['/nope', 404, /no such path/],
  ];
  for (const [path, status, message] of bad) {
    const r = await serve.get(path);
    assert.equal(r.status, status, `${path}: ${r.text}`);
    assert.match(r.text, message, path);
  }
  const post = await fetch(`${serve.url}/metrics`, { method: 'POST' });
  assert.equal(post.status, 405);
  // A request line node cannot parse.
  const raw = await new Promise<string>((resolve) => {
    const [host, port] = serve.url.slice(7).split(':');
    const sock = connect(Number(port), host!, () => sock.write('GET /\x01 HTTP/1.1\r\n\r\n'));
    let got = '';
    sock.on('data', (d) => (got += d)).on('close', () => resolve(got));
  });
  assert.match(raw, /^HTTP\/1\.1 400/);

  const stopped = await serve.stop();
  assert.equal(stopped.code, 0, serve.run.stderr());
  assert.ok(stopped.ms < 5000, `stopped in ${stopped.ms} ms`);
  assert.match(serve.run.stderr(), /stopping: received SIGTERM/);
  await assert.rejects(fetch(`${serve.url}/healthz`), 'the HTTP server is closed');
  assert.doesNotMatch(serve.run.stderr(), /at .*\.js:\d+/, 'no stack trace');
});

const N = 2000;
const TOP = 100;
const svcAddr = (i: number) => `10.96.${i >> 8}.${i & 255}:80`;

test('serve: 2,000 Services with --metrics-max-services 100 keep /metrics bounded and say how many were left out', async (t) => {
  const a = await fakeAgent(t, 'node-a');
  const serve = await startServe(t, ['--agent', a.address, '--metrics-max-services', String(TOP)]);
  await waitFor('serve to subscribe', () => equals(a.subscribers(), 1), 10_000);
  const t0 = Date.now() * 1000;
  const services: ServiceInfo[] = Array.from({ length: N }, (_, i) => ({
    service: `${svcAddr(i)}/tcp`,
    name: `ns${i}/svc-"${i}"\n:http`,
    affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
    endpoints: ['10.1.0.2:8080', '10.1.1.2:8080'],
  }));
  const catalog: CatalogEvent = { type: 'catalog', ts: t0, node: 'node-a', services };
  a.source.emitEvents([catalog]);
  // Services 1900..1999 get three selections each, every other one one: those 100 are the top.
  const events: DnatEvent[] = [];
  for (let i = 0; i < N; i++)
    for (let k = 0; k < (i >= N - TOP ? 3 : 1); k++)
      events.push(
        dnat(events.length, 'node-a', {
          ts: t0 + 1 + events.length,
          service: svcAddr(i),
          backend: `10.1.${k % 2}.2:8080`,
        }),
      );
  a.source.emitEvents(events);

  // The flows, the catalog and serve's own `node up`.
  const text = await waitFor(
    'every event to arrive',
    async () => {
      const m = (await serve.get('/metrics')).text;
      const n = sample(m, 'stickyscope_events_total');
      return n === events.length + 2 ? m : new NotYet(n, events.length + 2);
    },
    10_000,
    100,
  );
  assert.equal(sample(text, 'stickyscope_services'), N);
  assert.equal(sample(text, 'stickyscope_metrics_services_omitted'), N - TOP);
  const shown = new Set(
    [...text.matchAll(/^stickyscope_service_selections_total\{.*address="([^"]+)".*\} (\d+)$/gm)].map((m) => {
      assert.equal(m[2], '3', `${m[1]} has the top count`);
      return m[1];
    }),
  );
  assert.deepEqual([...shown].sort(), Array.from({ length: TOP }, (_, k) => `${svcAddr(N - TOP + k)}/tcp`).sort());
  // Names are escaped, not passed through: the line stays one series.
  assert.match(text, /service="ns1999\/svc-\\"1999\\"\\n:http"/);
  const bytes = Buffer.byteLength(text);
  t.diagnostic(`/metrics: ${bytes} bytes for ${TOP} of ${N} Services`);
  assert.ok(bytes < 300_000, `/metrics is ${bytes} bytes for ${TOP} of ${N} Services`);

  const report = JSON.parse((await serve.get('/report.json?window=all')).text);
  assert.deepEqual(report.metrics, { maxServices: TOP, servicesOmitted: N - TOP });
  assert.equal(report.services.length, N, 'the report itself keeps every Service');
});

test('serve --report-every writes a timestamped report per period and keeps the newest --report-keep', async (t) => {
  const { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-serve-reports-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'notes.txt'), 'not a report\n');
  const a = await fakeAgent(t, 'node-a');
  const serve = await startServe(t, [
    '--agent',
    a.address,
    '--report-every',
    '300ms',
    '--report-dir',
    dir,
    '--report-keep',
    '2',
  ]);
  await waitFor('serve to subscribe', () => equals(a.subscribers(), 1), 10_000);
  a.source.emitEvents(Array.from({ length: 5 }, (_, i) => dnat(i, 'node-a', { ts: Date.now() * 1000 + i })));
  await serve.run.waitFor(/(?:wrote [^\n]*\n[\s\S]*){4}/, 10_000);
  const files = readdirSync(dir).sort();
  const reports = files.filter((f) => /^stickyscope-report-\d{8}T\d{9}Z\.json$/.test(f));
  assert.equal(reports.length, 2, `the newest two are kept: ${files.join(', ')}`);
  assert.ok(files.includes('notes.txt'), 'other files are left alone');
  const newest = JSON.parse(readFileSync(join(dir, reports.at(-1)!), 'utf8'));
  assert.equal(newest.services[0].selections, 5);
  assert.equal(newest.window.scope, 'window');
});
