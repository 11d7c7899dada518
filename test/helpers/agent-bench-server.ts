// Child process for the throughput test: an agent server whose fake probe emits `rate` dnat events a second, in 10 ms
// batches, for `ms` milliseconds once a subscriber is in; with TLSDIR (ca.crt, bench.crt, bench.key) over mutual TLS.
// Prints the address, then "sent N"; exits when stdin closes. Usage: node agent-bench-server.js RATE MS [TLSDIR]
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import { agentCredentials } from '../../src/protocol/tls.js';
import { FakeSource, dnat } from './agent-fake-source.js';
import { waitFor } from './wait.js';

const [rate = '300000', ms = '3000', tlsDir] = process.argv.slice(2);
const source = new FakeSource();
const credentials = tlsDir
  ? await agentCredentials(
      { cert: join(tlsDir, 'bench.crt'), key: join(tlsDir, 'bench.key'), clientCa: join(tlsDir, 'ca.crt') },
      'bench',
    )
  : undefined;
const agent = getServer(source, { node: 'bench', credentials });
const addr = await agent.bind('127.0.0.1:0');
process.stdout.write(`${addr}\n`);

await waitFor('a subscriber', () => agent.info().subscribers > 0, 60_000, 10);
const perTick = Number(rate) / 100;
const started = performance.now();
let sent = 0;
while (performance.now() - started < Number(ms)) {
  const target = Math.floor(((performance.now() - started) / 1000) * Number(rate));
  const batch = [];
  while (sent < target && batch.length < perTick * 4) batch.push(dnat(sent++, 'bench', { ts: Date.now() * 1000 }));
  if (batch.length > 0) source.emitEvents(batch);
  await new Promise((r) => setTimeout(r, 10));
}
process.stdout.write(`sent ${sent}\n`);
process.stdin.resume();
process.stdin.on('end', () => void agent.close());
