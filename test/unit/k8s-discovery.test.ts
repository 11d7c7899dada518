// Agent discovery and the --k8s flags against the fake API server.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveAgentsFromArgs, DEFAULT_SELECTOR } from '../../src/k8s/cli.js';
import { EnvironmentError, InputError, UsageError } from '../../src/core/errors.js';
import type { CatalogEvent } from '../../src/core/event.js';
import { runPrefix } from '../helpers/env.js';
import { loadK8sFixture, startFakeApiServer, type FakeApiServer, type FakeObject } from '../helpers/fake-apiserver.js';

import { discoverAgents } from '../../src/k8s/agents.js';
import { loadKubeConfig } from '../../src/k8s/kube-config.js';
import { waitFor, equals } from '../helpers/wait.js';

type PodObj = FakeObject & { status: { conditions: { type: string; status: string }[]; podIP: string } };
const pod = (name: string): PodObj =>
  structuredClone(loadK8sFixture('agent-pods.yaml').find((p) => p.metadata.name === name)!) as PodObj;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix()}-k8s-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function apiWithAgents(t: TestContext): Promise<FakeApiServer> {
  const api = await startFakeApiServer({ dir: tempDir(t) });
  t.after(() => api.close());
  for (const p of loadK8sFixture('agent-pods.yaml')) api.apply('pods', p);
  return api;
}

function aborter(t: TestContext): AbortSignal {
  const ac = new AbortController();
  t.after(() => ac.abort());
  return ac.signal;
}

test('discovery lists ready agent pods only and follows them becoming ready and going away', {
  timeout: 15_000,
}, async (t) => {
  const api = await apiWithAgents(t);
  const seen: string[][] = [];
  const d = await discoverAgents({
    kubeConfig: loadKubeConfig(api.kubeconfig),
    namespace: 'stickyscope',
    selector: DEFAULT_SELECTOR,
    signal: aborter(t),
    retryMs: 50,
  });
  d.onChange((a) => seen.push(a));
  // Port from the pods' container port named grpc; the bystander pod is not selected.
  assert.deepEqual(d.addresses(), ['172.18.0.2:7411']);
  assert.deepEqual(d.nodes(), { '172.18.0.2:7411': 'node-a' });
  const lists = api.requests.filter((r) => r.query.get('watch') !== 'true');
  assert.equal(lists[0]!.path, '/api/v1/namespaces/stickyscope/pods');
  assert.equal(lists[0]!.query.get('labelSelector'), DEFAULT_SELECTOR);

  const b = pod('stickyscope-agent-bbbbb');
  b.status.conditions = [{ type: 'Ready', status: 'True' }];
  api.apply('pods', b);
  await waitFor('agent b to be ready', () => equals(seen.length, 1), 5000);
  assert.deepEqual(seen[0], ['172.18.0.2:7411', '172.18.0.3:7411']);

  api.remove('pods', 'stickyscope', 'stickyscope-agent-aaaaa');
  await waitFor('agent a to go away', () => equals(seen.length, 2), 5000);
  assert.deepEqual(seen[1], ['172.18.0.3:7411']);

  // An agent losing readiness leaves the set; a non-agent pod changing does not notify.
  const other = pod('something-else');
  other.status.podIP = '10.1.7.8';
  api.apply('pods', other);
  b.status.conditions = [{ type: 'Ready', status: 'False' }];
  api.apply('pods', b);
  await waitFor('agent b to become unready', () => equals(seen.length, 3), 5000);
  assert.deepEqual(seen[2], []);
  assert.deepEqual(d.addresses(), []);
});

test("an explicit port overrides the pods' grpc port", { timeout: 15_000 }, async (t) => {
  const api = await apiWithAgents(t);
  const d = await discoverAgents({
    kubeConfig: loadKubeConfig(api.kubeconfig),
    namespace: 'stickyscope',
    selector: DEFAULT_SELECTOR,
    port: 9000,
    signal: aborter(t),
  });
  assert.deepEqual(d.addresses(), ['172.18.0.2:9000']);
});

test('--k8s resolves agents through the kubeconfig and hands out an API catalog', { timeout: 15_000 }, async (t) => {
  const api = await apiWithAgents(t);
  for (const svc of loadK8sFixture('services.yaml')) api.apply('services', svc);
  for (const slice of loadK8sFixture('endpointslices.yaml')) api.apply('endpointslices', slice);
  const r = await resolveAgentsFromArgs(
    { k8s: true, kubeconfig: api.kubeconfig, agent: ['127.0.0.1:7411'] },
    aborter(t),
  );
  assert.deepEqual(r.addresses, ['127.0.0.1:7411', '172.18.0.2:7411']);
  const catalogs: CatalogEvent[] = [];
  await r.metadata!((e) => catalogs.push(e));
  assert.equal(catalogs.length, 1);
  assert.equal(catalogs[0]!.services.find((s) => s.service === '10.96.12.34:80/tcp')?.name, 'shop/web:http');
  // Bearer token from the kubeconfig on every request (the server answers 401 otherwise).
  assert.ok(api.requests.length >= 4);
});

test('--k8s fails with one clear line when no agent is ready, the cluster is unreachable, or the token is wrong', {
  timeout: 15_000,
}, async (t) => {
  const api = await apiWithAgents(t);
  await assert.rejects(
    resolveAgentsFromArgs(
      { k8s: true, kubeconfig: api.kubeconfig, selector: 'app.kubernetes.io/name=nothing' },
      aborter(t),
    ),
    (e: Error) =>
      e instanceof EnvironmentError &&
      /no ready pod matches 'app.kubernetes.io\/name=nothing' in namespace 'stickyscope'/.test(e.message),
  );

  const dir = tempDir(t);
  const wrongToken = join(dir, 'wrong-token');
  writeFileSync(
    wrongToken,
    (await import('node:fs')).readFileSync(api.kubeconfig, 'utf8').replace(/token: .*/, 'token: nope'),
  );
  await assert.rejects(
    resolveAgentsFromArgs({ k8s: true, kubeconfig: wrongToken }, aborter(t)),
    (e: Error) =>
      e instanceof EnvironmentError &&
      /failed to list agent pods in namespace 'stickyscope'/.test(e.message) &&
      /401|Unauthorized/.test(e.message),
  );

  const closed = await startFakeApiServer({ dir: tempDir(t) });
  await closed.close();
  const started = Date.now();
  await assert.rejects(
    resolveAgentsFromArgs({ k8s: true, kubeconfig: closed.kubeconfig }, aborter(t)),
    (e: Error) => e instanceof EnvironmentError && e.message.includes(closed.url),
  );
  assert.ok(Date.now() - started < 5000, 'fails at the first refusal, without retrying');
});

test('flags without --k8s: plain --agent list, and k8s-only flags refused', async (t) => {
  assert.deepEqual(await resolveAgentsFromArgs({ agent: ['10.0.0.1:7411'] }, aborter(t)), {
    addresses: ['10.0.0.1:7411'],
  });
  await assert.rejects(resolveAgentsFromArgs({ namespace: 'x' }, aborter(t)), UsageError);
});

test('a missing kubeconfig file is an input error', async (t) => {
  await assert.rejects(
    resolveAgentsFromArgs({ k8s: true, kubeconfig: '/nonexistent/kubeconfig' }, aborter(t)),
    InputError,
  );
});
