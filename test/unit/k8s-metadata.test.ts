// watchMetadata against the fake API server: catalog contents from hand-checked
// fixtures, changes mid-stream, and recovery after 410 Gone.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CatalogEvent, ServiceInfo } from '../../src/core/event.js';
import { runPrefix } from '../helpers/env.js';
import { loadK8sFixture, startFakeApiServer, type FakeApiServer, type FakeObject } from '../helpers/fake-apiserver.js';

import { watchMetadata } from '../../src/k8s/metadata.js';
import { loadKubeConfig } from '../../src/k8s/kube-config.js';
import { waitFor, equals, atLeast } from '../helpers/wait.js';

/** What the fixtures mean, worked out by hand from services.yaml and endpointslices.yaml. */
const EXPECTED: ServiceInfo[] = [
  {
    service: '10.96.0.10:53/tcp',
    name: 'kube-system/kube-dns:dns-tcp',
    affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'k8s' },
    endpoints: ['10.1.0.5:53', '10.1.0.6:53'],
    pods: { '10.1.0.5:53': 'kube-system/coredns-1', '10.1.0.6:53': 'kube-system/coredns-2' },
  },
  {
    service: '10.96.0.10:53/udp',
    name: 'kube-system/kube-dns:dns',
    affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'k8s' },
    endpoints: ['10.1.0.5:53', '10.1.0.6:53'],
    pods: { '10.1.0.5:53': 'kube-system/coredns-1', '10.1.0.6:53': 'kube-system/coredns-2' },
  },
  {
    service: '10.96.12.34:80/tcp',
    name: 'shop/web:http',
    affinity: { mode: 'ClientIP', timeoutSeconds: 600, source: 'k8s' },
    endpoints: ['10.1.1.2:8080', '10.1.2.3:8080', '10.1.4.5:8080'],
    pods: {
      '10.1.1.2:8080': 'shop/web-6d9f7-aaaaa',
      '10.1.2.3:8080': 'shop/web-6d9f7-bbbbb',
      '10.1.4.5:8080': 'shop/web-6d9f7-ddddd',
    },
  },
  {
    service: '10.96.12.34:9100/tcp',
    name: 'shop/web:metrics',
    affinity: { mode: 'ClientIP', timeoutSeconds: 600, source: 'k8s' },
    endpoints: ['10.1.1.2:9100', '10.1.2.3:9100', '10.1.4.5:9100'],
    pods: {
      '10.1.1.2:9100': 'shop/web-6d9f7-aaaaa',
      '10.1.2.3:9100': 'shop/web-6d9f7-bbbbb',
      '10.1.4.5:9100': 'shop/web-6d9f7-ddddd',
    },
  },
  {
    service: '10.96.7.7:443/tcp',
    name: 'shop/api',
    affinity: { mode: 'None', timeoutSeconds: null, source: 'k8s' },
    endpoints: ['10.1.5.6:8443'],
  },
  {
    service: '192.0.2.50:443/tcp',
    name: 'shop/api',
    affinity: { mode: 'None', timeoutSeconds: null, source: 'k8s' },
    endpoints: ['10.1.5.6:8443'],
  },
  {
    service: '[fd00:10:96::7]:443/tcp',
    name: 'shop/api',
    affinity: { mode: 'None', timeoutSeconds: null, source: 'k8s' },
    endpoints: ['[fd00:1:5::6]:8443'],
  },
];

/** Services, EndpointSlices and Nodes. */
const WATCHES = 3;

/** By address, without the topology facts (their own test below checks them). */
const byKey = (list: ServiceInfo[]) =>
  Object.fromEntries(list.map(({ topology: _, ...s }) => [s.service, s as ServiceInfo]));

interface Run {
  api: FakeApiServer;
  events: CatalogEvent[];
  errors: Error[];
  latest(): Record<string, ServiceInfo>;
}

async function start(t: TestContext, expiry: 'event' | 'http' = 'event'): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix()}-k8s-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const api = await startFakeApiServer({ dir, expiry });
  t.after(() => api.close());
  for (const svc of loadK8sFixture('services.yaml')) api.apply('services', svc);
  for (const slice of loadK8sFixture('endpointslices.yaml')) api.apply('endpointslices', slice);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const events: CatalogEvent[] = [];
  const errors: Error[] = [];
  await watchMetadata({
    kubeConfig: loadKubeConfig(api.kubeconfig),
    signal: ac.signal,
    onCatalog: (e) => events.push(e),
    onError: (e) => errors.push(e),
    retryMs: 50,
  });
  return { api, events, errors, latest: () => byKey(events.at(-1)!.services) };
}

const slice = (name: string): FakeObject =>
  structuredClone(loadK8sFixture('endpointslices.yaml').find((s) => s.metadata.name === name)!);
const service = (name: string): FakeObject =>
  structuredClone(loadK8sFixture('services.yaml').find((s) => s.metadata.name === name)!);

test('the first catalog names every Service port and carries affinity, ready endpoints and pods', async (t) => {
  const run = await start(t);
  assert.equal(run.events.length, 1, 'one catalog for the whole initial list');
  const ev = run.events[0]!;
  assert.equal(ev.type, 'catalog');
  assert.equal(ev.node, '');
  assert.ok(Math.abs(ev.ts / 1000 - Date.now()) < 5000, `ts ${ev.ts} is microseconds of now`);
  assert.deepEqual(byKey(ev.services), byKey(EXPECTED));
  assert.deepEqual(run.errors, []);
});

test('an EndpointSlice change mid-stream produces a catalog with the endpoints of that moment', async (t) => {
  const run = await start(t);
  const changed = slice('web-abc12') as FakeObject & {
    endpoints: { addresses: string[]; conditions?: { ready: boolean } }[];
  };
  changed.endpoints[1]!.conditions = { ready: false }; // 10.1.2.3 goes away
  changed.endpoints.push({ addresses: ['10.1.8.8'], conditions: { ready: true } });
  run.api.apply('endpointslices', changed);
  await waitFor('a second catalog', () => atLeast(run.events.length, 2), 5000);
  assert.deepEqual(run.latest()['10.96.12.34:80/tcp']!.endpoints, ['10.1.1.2:8080', '10.1.4.5:8080', '10.1.8.8:8080']);
  assert.deepEqual(run.latest()['10.96.0.10:53/udp'], byKey(EXPECTED)['10.96.0.10:53/udp'], 'other Services unchanged');

  // The Service's own affinity changes too.
  const web = service('web') as FakeObject & {
    spec: { sessionAffinityConfig: { clientIP: { timeoutSeconds: number } } };
  };
  web.spec.sessionAffinityConfig.clientIP.timeoutSeconds = 30;
  run.api.apply('services', web);
  await waitFor('a third catalog', () => atLeast(run.events.length, 3), 5000);
  assert.deepEqual(run.latest()['10.96.12.34:80/tcp']!.affinity, {
    mode: 'ClientIP',
    timeoutSeconds: 30,
    source: 'k8s',
  });

  // A deleted Service leaves the catalog; deleting its slice changes nothing more.
  run.api.remove('services', 'kube-system', 'kube-dns');
  await waitFor('a fourth catalog', () => atLeast(run.events.length, 4), 5000);
  assert.equal(run.latest()['10.96.0.10:53/udp'], undefined);
  assert.equal(Object.keys(run.latest()).length, EXPECTED.length - 2);
  // No positive signal here: a later visible change could land in the same turn and be reported in one catalog.
  run.api.remove('endpointslices', 'kube-system', 'kube-dns-x1');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(run.events.length, 4, 'no catalog when nothing visible changed');
});

for (const expiry of ['event', 'http'] as const) {
  test(`after 410 Gone (${expiry === 'event' ? 'ERROR watch event' : 'HTTP status'}) it relists and catches up on what it missed`, async (t) => {
    const run = await start(t, expiry);
    // Expire open watches, not ones still connecting: the ERROR event must arrive in-stream.
    await waitFor('watches open', () => equals(run.api.openWatches(), WATCHES), 5000);
    const listsBefore = run.api.lists('endpointslices');
    // Changes the open watches never see: only a relist can reveal them.
    run.api.remove('endpointslices', 'shop', 'web-def34', true);
    const api = service('api') as FakeObject & { spec: { sessionAffinity: string } };
    api.spec.sessionAffinity = 'ClientIP';
    run.api.apply('services', api, true);
    run.api.expireWatches();
    // Services and EndpointSlices relist independently, so the first catalog after the
    // expiry may hold one relist and not yet the other (a true picture of that moment);
    // wait for the catalog that holds both, and fail if it never comes.
    const webEndpoints = ['10.1.1.2:8080', '10.1.2.3:8080'];
    const apiAffinity = { mode: 'ClientIP', timeoutSeconds: 10800, source: 'k8s' };
    await waitFor(
      'a catalog with both missed changes (web-def34 gone, shop/api ClientIP)',
      () => {
        const latest = run.latest();
        return (
          isDeepStrictEqual(latest['10.96.12.34:80/tcp']?.endpoints, webEndpoints) &&
          isDeepStrictEqual(latest['10.96.7.7:443/tcp']?.affinity, apiAffinity)
        );
      },
      5000,
    );
    assert.ok(run.api.lists('endpointslices') > listsBefore, 'EndpointSlices were listed again');
    assert.ok(run.events.length <= 3, `one catalog per relist at most, got ${run.events.length - 1}`);
    assert.deepEqual(run.latest()['10.96.12.34:80/tcp']!.pods, {
      '10.1.1.2:8080': 'shop/web-6d9f7-aaaaa',
      '10.1.2.3:8080': 'shop/web-6d9f7-bbbbb',
    });
    assert.deepEqual(run.errors, [], '410 Gone is recovered from, not reported');
    // And the new watch works.
    await waitFor('watches reopened', () => equals(run.api.openWatches(), WATCHES), 5000);
    run.api.remove('services', 'shop', 'web');
    await waitFor('a catalog without shop/web', () => run.latest()['10.96.12.34:80/tcp'] === undefined, 5000);
  });
}

test('a watch that simply ends resumes from its last resourceVersion without relisting', async (t) => {
  const run = await start(t);
  const lists = run.api.lists('services') + run.api.lists('endpointslices');
  await waitFor('watches open', () => equals(run.api.openWatches(), WATCHES), 5000);
  run.api.endWatches();
  await waitFor('watches reopened', () => equals(run.api.openWatches(), WATCHES), 5000);
  const resumed = run.api.requests.filter((r) => r.query.get('watch') === 'true').slice(-2);
  for (const r of resumed) assert.ok(Number(r.query.get('resourceVersion')) > 0, `${r.path} resumed from a version`);
  run.api.remove('services', 'shop', 'api');
  await waitFor('a catalog without shop/api', () => run.latest()['10.96.7.7:443/tcp'] === undefined, 5000);
  assert.equal(run.api.lists('services') + run.api.lists('endpointslices'), lists, 'no relist');
});

test("the topology facts: each address's policy and distribution, every endpoint's place, the nodes and zones", async (t) => {
  const run = await start(t);
  const webNow = () => run.events.at(-1)!.services.find((x) => x.service === '10.96.12.34:80/tcp');
  const web = service('web') as FakeObject & { spec: Record<string, unknown> };
  Object.assign(web.spec, { internalTrafficPolicy: 'Local', trafficDistribution: 'PreferSameZone' });
  run.api.apply('services', web);
  const s = slice('web-abc12') as FakeObject & { endpoints: Record<string, unknown>[] };
  Object.assign(s.endpoints[0]!, {
    nodeName: 'n1',
    zone: 'a',
    hints: { forZones: [{ name: 'a' }], forNodes: [{ name: 'n1' }] },
  });
  s.endpoints[1]!.conditions = { ready: false, serving: true, terminating: true };
  run.api.apply('endpointslices', s);
  run.api.apply('nodes', { metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'a' } } });
  run.api.apply('nodes', { metadata: { name: 'n2' } });
  await waitFor(
    'a catalog with the nodes and the new policy',
    () => run.events.at(-1)?.nodes?.length === 2 && webNow()?.topology?.policy === 'Local',
    5000,
  );
  assert.deepEqual(run.events.at(-1)!.nodes, [{ name: 'n1', zone: 'a' }, { name: 'n2' }]);
  const topo = webNow()!.topology!;
  assert.equal(topo.distribution, 'PreferSameZone');
  assert.deepEqual(
    topo.endpoints.find((e) => e.endpoint === '10.1.1.2:8080'),
    {
      endpoint: '10.1.1.2:8080',
      node: 'n1',
      zone: 'a',
      zoneHints: ['a'],
      nodeHints: ['n1'],
      ready: true,
      serving: true,
      terminating: false,
    },
  );
  assert.deepEqual(
    topo.endpoints.find((e) => e.endpoint === '10.1.2.3:8080'),
    {
      endpoint: '10.1.2.3:8080',
      node: 'node-b',
      ready: false,
      serving: true,
      terminating: true,
    },
  );
  // Not ready: a place, not an endpoint.
  assert.ok(!webNow()!.endpoints.includes('10.1.2.3:8080'));
  // A node's status changing (not its zone) makes no catalog: a zone change after it makes exactly one.
  const before = run.events.length;
  run.api.apply('nodes', { metadata: { name: 'n2', labels: { 'kubernetes.io/hostname': 'n2' } } });
  run.api.apply('nodes', { metadata: { name: 'n2', labels: { 'topology.kubernetes.io/zone': 'b' } } });
  await waitFor('the zone change', () => run.events.at(-1)?.nodes?.[1]?.zone === 'b', 5000);
  assert.equal(run.events.length, before + 1);
});
