// `serve --k8s` follows the agent set through the API's watch: an agent pod that becomes
// ready is subscribed within seconds, one deleted is dropped with its node's window
// marked missing (fake API server, fake agents; the events sent are the ground truth).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import { runPrefix } from '../../src/core/run-prefix.js';
import type { Report } from '../../src/report/types.js';
import { loadK8sFixture, startFakeApiServer, type FakeObject } from '../helpers/fake-apiserver.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { sample, startServe } from '../helpers/serve.js';
import { waitFor, equals, NotYet } from '../helpers/wait.js';

type Pod = FakeObject & {
  spec: { nodeName: string; containers: { ports: { containerPort: number }[] }[] };
  status: { podIP: string };
};

async function fakeAgent(t: TestContext, node: string) {
  const source = new FakeSource();
  const server = getServer(source, { node });
  const address = await server.bind('127.0.0.1:0');
  t.after(() => server.close());
  return { source, address, subscribers: () => server.info().subscribers };
}

function agentPod(name: string, node: string, address: string): Pod {
  const pod = structuredClone(
    loadK8sFixture('agent-pods.yaml').find((p) => p.metadata.name === 'stickyscope-agent-aaaaa')!,
  ) as Pod;
  pod.metadata.name = name;
  pod.spec.nodeName = node;
  pod.status.podIP = '127.0.0.1';
  pod.spec.containers[0]!.ports[0]!.containerPort = Number(address.split(':').at(-1));
  return pod;
}

const SVC = '10.96.0.10:80';
const send = (a: Awaited<ReturnType<typeof fakeAgent>>, node: string, n: number, from: number) =>
  a.source.emitEvents(
    Array.from({ length: n }, (_, i) => dnat(from + i, node, { ts: Date.now() * 1000 + i, service: SVC })),
  );

test('serve --k8s subscribes agents that become ready and drops deleted ones, their window marked missing', {
  timeout: 60_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix()}-serve-k8s-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const api = await startFakeApiServer({ dir });
  t.after(() => api.close());
  const a = await fakeAgent(t, 'node-a');
  const b = await fakeAgent(t, 'node-b');
  api.apply('pods', agentPod('stickyscope-agent-a', 'node-a', a.address));
  const serve = await startServe(t, ['--k8s', '--kubeconfig', api.kubeconfig]);
  await waitFor('serve to subscribe to node-a', () => equals(a.subscribers(), 1), 10_000);
  send(a, 'node-a', 10, 0);

  const added = Date.now();
  api.apply('pods', agentPod('stickyscope-agent-b', 'node-b', b.address));
  await waitFor('serve to subscribe to node-b', () => equals(b.subscribers(), 1), 5_000);
  const subscribedMs = Date.now() - added;
  send(b, 'node-b', 7, 100);
  let text = await waitFor(
    'the selections of both agents in /metrics',
    async () => {
      const m = (await serve.get('/metrics')).text;
      const n = sample(m, 'stickyscope_service_selections_total', { address: `${SVC}/tcp` });
      return n === 17 ? m : new NotYet(n, 17);
    },
    5_000,
    100,
  );
  assert.equal(sample(text, 'stickyscope_agent_up', { agent: b.address, node: 'node-b' }), 1);
  t.diagnostic(`node-b subscribed ${subscribedMs} ms after its pod became ready`);
  assert.equal((await serve.get('/readyz')).status, 200);

  const removed = Date.now();
  api.remove('pods', 'stickyscope', 'stickyscope-agent-a');
  await waitFor("serve to drop node-a's stream", () => a.subscribers() === 0, 5_000);
  const report = await waitFor(
    "node-a's missing window in /report.json",
    async () => {
      const r = JSON.parse((await serve.get('/report.json')).text) as Report;
      return r.window.missing.some((m) => m.node === 'node-a') ? r : new NotYet(r.window, 'a gap for node-a');
    },
    5_000,
    100,
  );
  const gap = report.window.missing.find((m) => m.node === 'node-a');
  assert.ok(gap?.ongoing, `node-a's window is missing from its removal on: ${JSON.stringify(report.window)}`);
  assert.ok(Math.abs(Date.parse(gap.start) - removed) < 3000);
  text = (await serve.get('/metrics')).text;
  assert.equal(sample(text, 'stickyscope_agent_up', { node: 'node-a' }), undefined, 'a removed agent is no series');
  assert.equal(sample(text, 'stickyscope_agent_up', { node: 'node-b' }), 1);
  assert.match(serve.run.stderr(), /node-a.* removed: agent node-a .* left the set of agents/);
  assert.equal((await serve.stop()).code, 0);
});
