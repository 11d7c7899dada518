// Child process for the abuse tests: an agent (default limits, the given stall timeout) whose fake probe emits `rate`
// dnat events/s from the first subscriber on. Prints its address; stdin "stop" stops the probe and prints "sent N",
// "info" prints Info as JSON; exits when stdin closes.
import { createInterface } from 'node:readline';
import { getServer } from '../../src/agent/server.js';
import { FakeSource, dnat } from './agent-fake-source.js';
import { waitFor } from './wait.js';

const [rate = '20000', stallMs = '2000'] = process.argv.slice(2);
const source = new FakeSource();
const agent = getServer(source, { node: 'abuse', limits: { stallTimeoutMs: Number(stallMs) } });
const addr = await agent.bind('127.0.0.1:0');
process.stdout.write(`${addr}\n`);

await waitFor('a subscriber', () => agent.info().subscribers > 0, 60_000, 10);
let sent = 0;
let emitting = true;
const started = performance.now();
const tick = setInterval(() => {
  if (!emitting) return;
  const target = Math.floor(((performance.now() - started) / 1000) * Number(rate));
  const batch = [];
  while (sent < target) batch.push(dnat(sent++, 'abuse', { ts: Date.now() * 1000 }));
  if (batch.length > 0) source.emitEvents(batch);
}, 10);

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'stop') {
      emitting = false;
      clearInterval(tick);
      process.stdout.write(`sent ${sent}\n`);
    } else if (line === 'info') process.stdout.write(`${JSON.stringify(agent.info())}\n`);
  })
  .on('close', () => {
    clearInterval(tick);
    void agent.close();
  });
