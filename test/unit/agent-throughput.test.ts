// Events a second through encode -> gRPC (mutual TLS, as deployed) over loopback -> decode, with the agent in its own
// process and a fake probe; the rate is printed as a diagnostic. The default rate leaves room for other test files running
// alongside on two cores; STICKYSCOPE_BENCH_RATE=300000, run alone, is the live target (measured: no loss).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCertDir } from '../../src/certs/make-certs.js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import type { StickyEvent } from '../../src/core/event.js';
import { waitFor, atLeast } from '../helpers/wait.js';

const rate = Number(process.env.STICKYSCOPE_BENCH_RATE ?? 100_000);
const durationMs = 3000;

test(`the agent streams ${rate} events/s to a subscriber over mutual TLS without loss`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-bench-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await writeCertDir(dir, { nodes: ['bench'], clients: ['client'], days: 1 });
  const tls = { ca: join(dir, 'ca.crt'), cert: join(dir, 'client.crt'), key: join(dir, 'client.key') };
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(new URL('../helpers/agent-bench-server.js', import.meta.url)),
      String(rate),
      String(durationMs),
      dir,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.after(() => {
    child.stdin.end();
    if (child.exitCode === null) child.kill();
  });
  const lines = createInterface({ input: child.stdout });
  const it = lines[Symbol.asyncIterator]();
  const addr = (await it.next()).value as string;

  const conn = new AgentConnection(addr, {}, undefined, undefined, { tls, node: 'bench' });
  t.after(() => conn.stop());
  let received = 0;
  let lost = 0;
  let first = 0;
  let last = 0;
  conn.on('events', (events: StickyEvent[]) => {
    for (const e of events) {
      if (e.type === 'dnat') received++;
      else if (e.type === 'lost') lost += e.count;
    }
    if (first === 0) first = performance.now();
    last = performance.now();
  });
  const sentLine = (await it.next()).value as string;
  const sent = Number(/^sent (\d+)$/.exec(sentLine)?.[1]);
  await waitFor(`${sent} events to arrive or be counted lost`, () => atLeast(received + lost, sent), 15_000);
  const perSecond = Math.round(received / ((last - first) / 1000));
  t.diagnostic(
    `sent ${sent} in ${durationMs} ms; received ${received}, lost ${lost}; ${perSecond} events/s end to end`,
  );
  assert.equal(received + lost, sent);
  assert.equal(lost, 0, `the subscriber lost ${lost} of ${sent} events at ${rate}/s`);
});
