// An agent speaks for its own node: events and catalogs naming another node are refused where they enter (counted,
// said once), so a hostile agent can neither invent nodes nor rename another node's Services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getServer } from '../../src/agent/server.js';
import type { StickyEvent } from '../../src/core/event.js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { atLeast, equals, waitFor } from '../helpers/wait.js';

test('events and catalogs naming another node than the agent are dropped, counted and said once', async (t) => {
  const source = new FakeSource();
  const agent = getServer(source, { node: 'n1' });
  const addr = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const conn = new AgentConnection(addr, {});
  t.after(() => conn.stop());
  const got: StickyEvent[] = [];
  const warnings: string[] = [];
  conn.on('events', (evs: StickyEvent[]) => got.push(...evs.filter((e) => e.type !== 'node')));
  conn.on('warning', (w: string) => warnings.push(w));
  await waitFor('the subscriber', () => equals(agent.info().subscribers, 1), 10_000);
  const hijack: StickyEvent = {
    type: 'catalog',
    ts: Date.now() * 1000,
    node: 'n2',
    services: [
      {
        service: '10.96.0.10:80/tcp',
        name: 'evil/hijacked:http',
        affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
        endpoints: [],
      },
    ],
  };
  const invented = Array.from({ length: 1000 }, (_, i) => dnat(i, `invented-${i}`));
  const own = Array.from({ length: 50 }, (_, i) => dnat(i, 'n1'));
  source.emitEvents([hijack, ...invented, ...own]);
  await waitFor('the own node events', () => atLeast(got.length, own.length), 10_000);
  assert.deepEqual(got, own, "only the agent's own node's events pass");
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /node is 'n2'; expected the agent's own node 'n1'/);
});
