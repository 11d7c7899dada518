// `serve`'s /readyz against stickyscope_agent_up (issue 31 §14): ready while at least one
// agent is up (once every known agent was subscribed once); after the only agent died it is
// 503 naming it, as its agent_up series says 0, and ready again once it is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getServer } from '../../src/agent/server.js';
import { FakeSource } from '../helpers/agent-fake-source.js';
import { sample, startServe } from '../helpers/serve.js';
import { equals, NotYet, waitFor } from '../helpers/wait.js';

test('serve /readyz: 503 while the only agent is down (agent_up 0), 200 once it is back', async (t) => {
  const source = new FakeSource();
  let agent = getServer(source, { node: 'node-a' });
  const address = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const serve = await startServe(t, ['--agent', address]);
  const up = async () => sample((await serve.get('/metrics')).text, 'stickyscope_agent_up', { agent: address });
  await waitFor('the agent up in /metrics', async () => equals(await up(), 1), 10_000, 50);
  assert.equal((await serve.get('/readyz')).status, 200);

  await agent.close();
  await waitFor('the agent down in /metrics', async () => equals(await up(), 0), 10_000, 50);
  const ready = await serve.get('/readyz');
  assert.equal(ready.status, 503, `agent_up is 0 but /readyz says: ${ready.text}`);
  assert.match(ready.text, /no agent up/);
  assert.ok(ready.text.includes(address), `names the agent: ${ready.text}`);
  assert.equal(ready.headers.get('retry-after'), '2');

  // The same address again: serve's retries find it.
  agent = getServer(source, { node: 'node-a' });
  await agent.bind(address);
  await waitFor(
    '/readyz 200 again',
    async () => {
      const r = await serve.get('/readyz');
      return r.status === 200 || new NotYet(`${r.status} ${r.text}`, 200);
    },
    10_000,
    50,
  );
  assert.equal(await up(), 1);
});
