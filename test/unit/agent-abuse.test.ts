// Abusive clients against an agent in its own process (fake probe, no BPF needed): 200 non-readers, garbage and HTTP/1.1,
// oversized requests, connect-and-vanish. The agent's VmRSS/VmHWM stays bounded (printed), and a normal subscriber
// alongside gets every event the fake probe emitted.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { subscribeMethod } from '../../src/protocol/service-def.js';
import type { AgentInfo } from '../../src/protocol/wire.js';
import type { StickyEvent } from '../../src/core/event.js';
import { sleep } from '../helpers/agent-fake-source.js';
import { waitFor, equals, atLeast } from '../helpers/wait.js';

const RATE = 20_000;
const MiB = 1024 * 1024;

/** VmRSS (now) and VmHWM (peak so far) of a process, in MiB. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function startAgent(t: TestContext) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('../helpers/agent-abuse-server.js', import.meta.url)), String(RATE), '2000'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  t.after(() => {
    child.stdin.end();
    if (child.exitCode === null) child.kill();
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => (await lines.next()).value as string;
  const addr = await next();
  const ask = async (line: string) => {
    child.stdin.write(`${line}\n`);
    return next();
  };
  // The normal subscriber: its arrival starts the fake probe.
  const normal = new AgentConnection(addr);
  t.after(() => normal.stop());
  const got = { received: 0, lost: 0, maxDelayMs: 0 };
  normal.on('events', (events: StickyEvent[]) => {
    const now = Date.now() * 1000;
    for (const e of events) {
      if (e.type === 'dnat') {
        got.received++;
        got.maxDelayMs = Math.max(got.maxDelayMs, (now - e.ts) / 1000);
      } else if (e.type === 'lost') got.lost += e.count;
    }
  });
  await waitFor('the normal subscriber to receive events', () => got.received > RATE / 2, 10_000);
  const before = memoryOf(child.pid!);
  return {
    addr,
    stderr: () => stderr,
    info: async () => JSON.parse(await ask('info')) as AgentInfo,
    /** Stops the probe, waits for the normal subscriber to account for everything, checks and prints. */
    async finish(what: string, boundMiB: number) {
      const sent = Number(/^sent (\d+)$/.exec(await ask('stop'))?.[1]);
      await waitFor(
        `the normal subscriber to account for ${sent} events`,
        () => atLeast(got.received + got.lost, sent),
        20_000,
      );
      const after = memoryOf(child.pid!);
      t.diagnostic(
        `${what}: agent VmRSS ${before.rss.toFixed(0)} MiB before, ${after.rss.toFixed(0)} MiB after, ` +
          `peak ${after.peak.toFixed(0)} MiB (bound: +${boundMiB} MiB); normal subscriber got ${got.received} of ${sent}, ` +
          `lost ${got.lost}, latest ${got.maxDelayMs.toFixed(0)} ms after emission`,
      );
      assert.equal(got.lost, 0, 'the normal subscriber lost nothing');
      assert.equal(got.received, sent, 'the normal subscriber got every event emitted');
      assert.ok(
        after.peak - before.rss < boundMiB,
        `agent memory grew by ${(after.peak - before.rss).toFixed(0)} MiB at its peak (bound ${boundMiB} MiB)`,
      );
    },
  };
}

/** A Subscribe request over bare HTTP/2: `body` is framed as gRPC frames messages. */
function rawSubscribe(session: http2.ClientHttp2Session, body: Uint8Array): http2.ClientHttp2Stream {
  const req = session.request({
    ':method': 'POST',
    ':path': subscribeMethod.path,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  req.on('error', () => {});
  req.end(Buffer.concat([head, body]));
  return req;
}

test('200 subscribers that never read: 16 are served until the stall timeout cuts them, the rest refused', async (t) => {
  const agent = await startAgent(t);
  const body = subscribeMethod.requestSerialize({});
  const sessions: http2.ClientHttp2Session[] = [];
  t.after(() => {
    for (const s of sessions) s.destroy();
  });
  // Bare HTTP/2 streams, paused: nothing is read, so no window is given back to the agent.
  // (A paused grpc-js call keeps reading into the client's own memory.)
  const ends = Array.from({ length: 200 }, () => {
    const s = http2.connect(`http://${agent.addr}`);
    s.on('error', () => {});
    sessions.push(s);
    const req = rawSubscribe(s, body);
    req.pause();
    return new Promise<string>((resolve) => {
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) resolve(grpc.status[Number(h['grpc-status'])]!);
      });
      req.on('close', () =>
        resolve(
          req.rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM
            ? 'reset ENHANCE_YOUR_CALM'
            : `closed ${req.rstCode}`,
        ),
      );
    });
  });
  const outcomes = await Promise.race([Promise.all(ends), sleep(30_000).then(() => null)]);
  assert.ok(outcomes, 'every non-reading subscriber was refused or cut within 30 s');
  const byCode = new Map<string, number>();
  for (const o of outcomes) byCode.set(o, (byCode.get(o) ?? 0) + 1);
  t.diagnostic(`non-reading subscribers ended with: ${JSON.stringify(Object.fromEntries(byCode))}`);
  const info = await agent.info();
  assert.equal(byCode.get('RESOURCE_EXHAUSTED'), info.limits.rejectedSubscribers);
  assert.equal(byCode.get('reset ENHANCE_YOUR_CALM'), info.limits.stalledSubscribers);
  assert.equal(info.limits.stalledSubscribers, 15, 'the 15 places beside the normal subscriber were taken, then cut');
  assert.equal(info.subscribers, 1);
  // Without the limits (all 200 served, none cut) the agent grew by 208 MiB here.
  await agent.finish('200 non-readers', 100);
  assert.match(agent.stderr(), /subscription from .* refused \(limit: agent --max-subscribers\)/);
  assert.match(agent.stderr(), /read nothing for 2 s while its queue of 65536 events overflowed; its stream is cut/);
});

test('garbage bytes and HTTP/1.1 on the port: every such connection is closed, nothing else is hurt', async (t) => {
  const agent = await startAgent(t);
  const [host, port] = [agent.addr.slice(0, agent.addr.lastIndexOf(':')), Number(agent.addr.split(':').pop())];
  const payloads = [
    ...Array.from({ length: 100 }, () => randomBytes(4096)),
    ...Array.from({ length: 100 }, () =>
      Buffer.from('GET / HTTP/1.1\r\nHost: agent\r\nConnection: keep-alive\r\n\r\n'),
    ),
    // A valid preface followed by garbage frames.
    ...Array.from({ length: 50 }, () =>
      Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), randomBytes(2048)]),
    ),
  ];
  const closed = await Promise.all(
    payloads.map(
      (p) =>
        new Promise<boolean>((resolve) => {
          const s = connect(port, host, () => s.write(p));
          s.on('error', () => {});
          s.resume();
          const timer = setTimeout(() => {
            s.destroy();
            resolve(false);
          }, 10_000);
          s.on('close', () => {
            clearTimeout(timer);
            resolve(true);
          });
        }),
    ),
  );
  assert.equal(closed.filter(Boolean).length, payloads.length, 'the agent closed every garbage connection');
  await agent.finish('250 garbage connections', 40);
});

test('oversized requests (250,000-service filters, 3.4 MB) are refused at once; the agent keeps up', async (t) => {
  const agent = await startAgent(t);
  const huge = subscribeMethod.requestSerialize({
    services: Array.from({ length: 250_000 }, (_v, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`),
  });
  t.diagnostic(`filter of 250,000 services: ${(huge.length / MiB).toFixed(1)} MiB`);
  let refused = 0;
  for (let round = 0; round < 3; round++) {
    const sessions = Array.from({ length: 8 }, () => http2.connect(`http://${agent.addr}`));
    const statuses = await Promise.all(
      sessions.map(
        (s) =>
          new Promise<string>((resolve) => {
            s.on('error', () => resolve('session error'));
            const req = rawSubscribe(s, huge);
            req.on('response', (h) => {
              if (h['grpc-status'] !== undefined) resolve(String(h['grpc-status']));
            });
            req.on('trailers', (h) => resolve(String(h['grpc-status'])));
            req.on('close', () => resolve(`closed ${req.rstCode}`));
          }),
      ),
    );
    for (const s of sessions) s.destroy();
    refused += statuses.filter((s) => s === String(grpc.status.RESOURCE_EXHAUSTED)).length;
  }
  assert.equal(refused, 24, 'every oversized request answered RESOURCE_EXHAUSTED');
  await waitFor(
    'the agent to count 24 oversized messages',
    async () => equals((await agent.info()).limits.oversizedMessages, 24),
    5_000,
    50,
  );
  await agent.finish('24 oversized requests', 60);
});

test('subscribers that connect and vanish, 300 times: the agent forgets every one', async (t) => {
  const agent = await startAgent(t);
  const filter = subscribeMethod.requestSerialize({ services: ['10.96.0.10:80'] });
  let subscribed = 0;
  const [host, port] = [agent.addr.slice(0, agent.addr.lastIndexOf(':')), Number(agent.addr.split(':').pop())];
  const once = () =>
    new Promise<void>((resolve) => {
      const socket = connect(port, host);
      const s = http2.connect(`http://${agent.addr}`, { createConnection: () => socket });
      s.on('error', () => {});
      const req = rawSubscribe(s, filter);
      req.on('response', () => {
        subscribed++;
        // Gone without a word: no RST_STREAM, no GOAWAY, the socket just closes.
        socket.destroy();
        resolve();
      });
      req.on('close', () => resolve());
    });
  for (let i = 0; i < 30; i++) await Promise.all(Array.from({ length: 10 }, once));
  assert.equal(subscribed, 300);
  await waitFor(
    'only the normal subscriber to be left',
    async () => equals((await agent.info()).subscribers, 1),
    10_000,
    50,
  );
  await agent.finish('300 vanishing subscribers', 40);
});
