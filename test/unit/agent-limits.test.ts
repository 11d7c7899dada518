// The agent's limits, each driven past by a real gRPC or HTTP/2 client: the status the client sees, the Info counter,
// the stderr line, and that a normal subscriber alongside loses nothing. Filter matching is timed against its size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { getServer } from '../../src/agent/server.js';
import { compileFilter, validateFilter } from '../../src/protocol/event-filter.js';
import { LimitLog, type AgentLimits } from '../../src/agent/limits.js';
import { subscribeMethod } from '../../src/protocol/service-def.js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import type { StickyEvent } from '../../src/core/event.js';
import { FakeSource, dnat, sleep } from '../helpers/agent-fake-source.js';
import { waitFor, equals, atLeast } from '../helpers/wait.js';

async function agentWith(t: { after(fn: () => unknown): void }, limits: Partial<AgentLimits>, maxBuffered?: number) {
  const source = new FakeSource();
  const logged: string[] = [];
  const agent = getServer(source, { node: 'n1', limits, maxBuffered, onLimit: (l) => logged.push(l) });
  const addr = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  return { source, agent, addr, logged };
}

interface Outcome {
  code: number;
  details: string;
  batches: number;
}

/** One Subscribe call with the request as raw bytes; resolves with how it ended. */
function subscribeRaw(addr: string, request: Uint8Array, opts: grpc.ChannelOptions = {}): Promise<Outcome> {
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), opts);
  const call = client.makeServerStreamRequest(
    subscribeMethod.path,
    (b: Uint8Array) => Buffer.from(b),
    (b: Buffer) => b,
    request,
  );
  let batches = 0;
  call.on('data', () => batches++);
  return new Promise((resolve) => {
    call.on('error', (err: grpc.ServiceError) => {
      client.close();
      resolve({ code: err.code, details: err.details, batches });
    });
    call.on('end', () => {
      client.close();
      resolve({ code: grpc.status.OK, details: '', batches });
    });
  });
}

const encode = (f: Parameters<typeof subscribeMethod.requestSerialize>[0]) => subscribeMethod.requestSerialize(f);

test('a subscriber past --max-subscribers is refused with RESOURCE_EXHAUSTED; the others keep their streams', async (t) => {
  const { agent, addr, logged, source } = await agentWith(t, { maxSubscribers: 2 });
  const conns = [new AgentConnection(addr), new AgentConnection(addr)];
  const got = [0, 0];
  conns.forEach((c, i) => {
    c.on('events', (es: StickyEvent[]) => (got[i]! += es.filter((e) => e.type === 'dnat').length));
    t.after(() => c.stop());
  });
  await waitFor('two subscribers', () => equals(agent.info().subscribers, 2), 10_000);
  const third = await subscribeRaw(addr, encode({}));
  assert.equal(third.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(third.details, /at most 2 subscribers at once .*--max-subscribers/);
  source.emitEvents(Array.from({ length: 100 }, (_v, i) => dnat(i, 'n1')));
  await waitFor('both admitted subscribers to get all 100 events', () => got[0] === 100 && got[1] === 100, 10_000);
  assert.equal(agent.info().limits.rejectedSubscribers, 1);
  assert.equal(agent.info().maxSubscribers, 2);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /subscription from 127\.0\.0\.1:\d+ refused/);
});

test('filters too large or of the wrong shape are refused with INVALID_ARGUMENT naming the field', async (t) => {
  const { agent, addr, logged } = await agentWith(t, {});
  const cases: [string, Uint8Array, RegExp][] = [
    [
      '1025 services',
      encode({ services: Array.from({ length: 1025 }, (_v, i) => `10.96.${i >> 8}.${i & 255}:80`) }),
      /services lists 1025 entries; at most 1024/,
    ],
    ['an entry of 161 characters', encode({ services: [`ns/${'a'.repeat(158)}`] }), /services\[0\] is 161 characters/],
    ['a client that is not an address', encode({ clients: ['10.0.0.1', 'x;y'] }), /clients\[1\] should be an IP/],
    ['a port past 65535', encode({ services: ['10.96.0.1:65536'] }), /services\[0\] should be "ip:port"/],
    ['an unknown protocol number', Uint8Array.from([0x1a, 0x01, 0x07]), /protos\[0\] is protocol number 7/],
    ['bytes that are no Filter', Uint8Array.from([0x0a, 0x09, 0x01]), /failed to decode a filter/],
  ];
  for (const [what, bytes, words] of cases) {
    const r = await subscribeRaw(addr, bytes);
    assert.equal(r.code, grpc.status.INVALID_ARGUMENT, what);
    assert.match(r.details, words, what);
  }
  assert.equal(agent.info().limits.invalidFilters, cases.length);
  assert.equal(agent.info().subscribers, 0);
  assert.equal(logged.length, 1, 'one line for the first, the rest within the minute are only counted');
  // Shapes that are fine: every form the proto names.
  const ok = validateFilter({
    services: ['10.96.0.10:80', '10.96.0.10:53/udp', '[fd00::10]:443/tcp', 'kube-system/kube-dns', 'lab/web:http'],
    clients: ['10.0.0.7', '10.0.0.7:40000', 'fd00::7', '[fd00::7]:40000'],
    protos: ['tcp', 'sctp'],
  });
  assert.equal(ok.services.length, 5);
});

test('a request over 64 KiB is refused with RESOURCE_EXHAUSTED and counted', async (t) => {
  const { agent, addr, logged } = await agentWith(t, {});
  // 70 KiB of services would also be too many entries: the size limit speaks first.
  const big = encode({ services: Array.from({ length: 5000 }, (_v, i) => `10.96.${i >> 8}.${i & 255}:8080`) });
  assert.ok(big.length > 64 * 1024);
  const r = await subscribeRaw(addr, big);
  assert.equal(r.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(r.details, /larger than max/);
  await waitFor('the oversized request to be counted', () => equals(agent.info().limits.oversizedMessages, 1), 10_000);
  assert.match(logged[0]!, /Subscribe from 127\.0\.0\.1:\d+ ended: Received message larger than max/);
});

test('a batch over the send limit ends that stream with RESOURCE_EXHAUSTED and is counted', async (t) => {
  const { agent, addr, source } = await agentWith(t, { maxSendBytes: 10_000 });
  const pending = subscribeRaw(addr, encode({}));
  await waitFor('the subscriber', () => equals(agent.info().subscribers, 1), 10_000);
  source.emitEvents(Array.from({ length: 500 }, (_v, i) => dnat(i, 'n1')));
  const r = await pending;
  assert.equal(r.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(r.details, /Sent message larger than max/);
  await waitFor('the oversized batch to be counted', () => equals(agent.info().limits.oversizedMessages, 1), 10_000);
});

test('a client pinging every 20 ms is closed with GOAWAY too_many_pings; one pinging every 10 s is not', async (t) => {
  const { agent, addr, logged } = await agentWith(t, { minPingIntervalMs: 500 });
  const normal = new AgentConnection(addr);
  t.after(() => normal.stop());
  await waitFor('the normal subscriber', () => equals(agent.info().subscribers, 1), 10_000);

  const session = http2.connect(`http://${addr}`);
  t.after(() => session.destroy());
  const goaway = new Promise<{ code: number; data: string }>((resolve) =>
    session.on('goaway', (code, _last, data) => resolve({ code, data: data?.toString() ?? '' })),
  );
  session.on('error', () => {});
  let pings = 0;
  const timer = setInterval(() => {
    if (!session.destroyed && !session.closed) session.ping(() => {}) && pings++;
  }, 20);
  t.after(() => clearInterval(timer));
  const g = await goaway;
  clearInterval(timer);
  assert.equal(g.code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.equal(g.data, 'too_many_pings');
  assert.ok(pings <= 4, `closed at the third early ping (sent ${pings})`);
  assert.equal(agent.info().limits.pingFloods, 1);
  assert.match(logged[0]!, /closed with GOAWAY too_many_pings: it pinged again within \d+ ms/);
  assert.equal(agent.info().subscribers, 1, 'the normal subscriber is still there');
});

test('a subscriber that reads nothing while its queue overflows is cut after the stall timeout', async (t) => {
  const { agent, addr, source, logged } = await agentWith(t, { stallTimeoutMs: 1000 }, 2000);
  const stalled = new AgentConnection(addr);
  const reading = new AgentConnection(addr);
  t.after(() => stalled.stop());
  t.after(() => reading.stop());
  let received = 0;
  let lost = 0;
  reading.on('events', (es: StickyEvent[]) => {
    for (const e of es) {
      if (e.type === 'dnat') received++;
      else if (e.type === 'lost') lost += e.count;
    }
  });
  const statuses: string[] = [];
  stalled.on('status', (s: { state: string; reason?: string }) => statuses.push(`${s.state} ${s.reason ?? ''}`));
  await waitFor('two subscribers', () => equals(agent.info().subscribers, 2), 10_000);
  stalled.pause();
  let sent = 0;
  const started = Date.now();
  while (agent.info().limits.stalledSubscribers === 0) {
    if (Date.now() - started > 20_000) assert.fail('the stalled subscriber was not cut within 20 s');
    const batch: StickyEvent[] = [];
    for (let i = 0; i < 2000; i++) batch.push(dnat(sent++, 'n1'));
    source.emitEvents(batch);
    await waitFor('the reading subscriber to keep up', () => atLeast(received, sent - 4000), 10_000);
    await sleep(5);
  }
  const cutAfter = Date.now() - started;
  await waitFor('the reading subscriber to get every event', () => equals(received, sent), 10_000);
  t.diagnostic(`sent ${sent}; stalled subscriber cut after ${cutAfter} ms; reading one got ${received}, lost ${lost}`);
  assert.equal(lost, 0);
  assert.equal(agent.info().subscribers, 1);
  assert.match(logged[0]!, /read nothing for 1 s while its queue of 2000 events overflowed; its stream is cut/);
  await waitFor('the stalled client to see its stream end', () => statuses.some((s) => s.startsWith('down')), 10_000);
  const down = statuses.find((s) => s.startsWith('down'))!;
  t.diagnostic(`the stalled client saw: ${down}`);
  assert.match(down, /RESOURCE_EXHAUSTED|Bandwidth exhausted|stream is cut/);
});

test('filter matching costs the same for 1 and 1024 services (Set lookups, not a scan)', () => {
  const events = Array.from({ length: 200_000 }, (_v, i) =>
    dnat(i, 'n1', { service: `10.96.${(i >> 8) & 255}.${i & 255}:80`, serviceName: `ns/svc-${i & 4095}:http` }),
  );
  // Only ns/svc-1 matches, in either list: the events whose i & 4095 is 1, counted by hand.
  const expected = Math.floor((events.length - 1 - 1) / 4096) + 1;
  const timeOf = (services: string[]) => {
    const accepts = compileFilter(validateFilter({ services }));
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now();
      let n = 0;
      for (const e of events) if (accepts(e)) n++;
      best = Math.min(best, performance.now() - t0);
      assert.equal(n, expected, `events accepted by ${services.length} entries`);
    }
    return best;
  };
  const one = timeOf(['ns/svc-1']);
  const many = timeOf([
    'ns/svc-1',
    ...Array.from({ length: 511 }, (_v, i) => `ns/other-${i}`),
    ...Array.from({ length: 512 }, (_v, i) => `10.97.${i >> 8}.${i & 255}:80/tcp`),
  ]);
  // A scan of 1024 entries per event would be hundreds of times slower.
  assert.ok(many < one * 4 + 20, `1024 entries: ${many.toFixed(1)} ms; 1 entry: ${one.toFixed(1)} ms`);
});

test('limit lines are said once per kind per interval, with how many were not said', () => {
  let now = 0;
  const lines: string[] = [];
  const log = new LimitLog(
    (l) => lines.push(l),
    60_000,
    () => now,
  );
  log.hit('pingFloods', 'a');
  log.hit('pingFloods', 'b');
  log.hit('invalidFilters', 'c');
  now = 30_000;
  log.hit('pingFloods', 'd');
  now = 61_000;
  log.hit('pingFloods', 'e');
  assert.deepEqual(lines, ['a', 'c', 'e (and 2 more of this kind since the last such message)']);
  assert.equal(log.counts.pingFloods, 4);
  assert.equal(log.counts.invalidFilters, 1);
});
