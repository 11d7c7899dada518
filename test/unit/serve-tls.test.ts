// `serve` takes the same client TLS flags as report/record/tui: it reaches a mutual-TLS
// agent with them, is refused without them (said in /readyz), and refuses plaintext to an
// agent beyond loopback unless --insecure, in one line before it starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePki, startTlsAgent } from '../helpers/tls-fixture.js';
import { dnat } from '../helpers/agent-fake-source.js';
import { runCli } from '../helpers/cli.js';
import { sample, startServe } from '../helpers/serve.js';
import { waitFor, equals, NotYet } from '../helpers/wait.js';

test('serve over mutual TLS: the certificate flags reach the agent; without them it is refused and not ready', async (t) => {
  const pki = await makePki(t);
  const agent = await startTlsAgent(t, pki);
  const c = pki.client('client');
  const serve = await startServe(t, [
    '--agent',
    agent.address,
    '--tls-ca',
    c.ca,
    '--tls-cert',
    c.cert,
    '--tls-key',
    c.key,
  ]);
  await waitFor('serve to subscribe over TLS', () => equals(agent.server.info().subscribers, 1), 10_000);
  agent.source.emitEvents([dnat(1, 'n1', { ts: Date.now() * 1000 })]);
  const text = await waitFor(
    "serve's metrics to count the selection",
    async () => {
      const m = (await serve.get('/metrics')).text;
      return equals(sample(m, 'stickyscope_service_selections_total'), 1) === true ? m : new NotYet(m, 1);
    },
    5000,
    100,
  );
  assert.equal(sample(text, 'stickyscope_agent_up', { agent: agent.address, node: 'n1' }), 1);

  const plain = await startServe(t, ['--agent', agent.address]);
  await plain.run.waitFor(/down: /);
  const ready = await plain.get('/readyz');
  assert.equal(ready.status, 503);
  assert.ok(ready.text.includes(agent.address), ready.text);
});

test('serve refuses plaintext beyond loopback and half-given TLS flags, in one line, exit 2', async () => {
  const remote = await runCli(['serve', '--agent', '10.255.0.1:7390', '--listen', '127.0.0.1:0']);
  assert.equal(remote.code, 2);
  assert.match(remote.stderr, /refusing to connect to 10\.255\.0\.1:7390 without TLS/);
  const half = await runCli(['serve', '--agent', '127.0.0.1:7390', '--tls-ca', '/nonexistent']);
  assert.equal(half.code, 2);
  assert.match(half.stderr, /needs --tls-ca, --tls-cert and --tls-key together/);
  for (const r of [remote, half]) assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
});
