// A dual-stack Service above the agent: the node catalog the agent makes from real IPv4 and IPv6 dumps (and the API's
// catalog of a Service with clusterIPs in both families) must make it one Service in the report, the TUI and /metrics,
// with per-family counts that add up to the selections fed in, and IPv6 addresses printed as [v6]:port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { mergeFamilies } from '../../src/agent/families.js';
import { parseNftCatalog } from '../../src/kube-proxy/nft-parse.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { CLUSTER_NODE, type CatalogEvent, type DnatEvent, type StickyEvent } from '../../src/core/event.js';
import { buildCatalog } from '../../src/k8s/catalog.js';
import { buildReport } from '../../src/report/build-report.js';
import { renderMarkdown } from '../../src/report/render-markdown.js';
import { AgentBook } from '../../src/serve/agent-book.js';
import { ServeHub } from '../../src/serve/hub.js';
import { createServeMetrics } from '../../src/serve/metrics.js';
import { serviceSnapshot } from '../../src/serve/figures.js';
import { AggregatorFrameSource } from '../../src/tui/aggregator-source.js';
import { screenHolds, waitFor } from '../helpers/wait.js';
import { dnatEvent } from '../helpers/events.js';

process.env.FORCE_COLOR = '1';
const { render } = await import('ink-testing-library');
const { App } = await import('../../src/tui/app.js');
// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

const read = (path: string) => readFileSync(new URL(`../../../test/fixtures/${path}`, import.meta.url), 'utf8');
const T0 = 1_795_435_865_000_000;

/** The catalog the agent publishes for a node whose two tables are the lab's (IPv4) and the IPv6 fixture. */
function nodeCatalog(): CatalogEvent {
  const c = mergeFamilies(parseNftCatalog(read('nft/lab-1.36-node.json')), parseNftCatalog(read('v6/nft-1.36.json')))!;
  return { type: 'catalog', ts: T0, node: 'n1', services: c.services, proxyMode: c.mode };
}

let seq = 0;
function pick(client: string, service: string, backend: string, i: number): DnatEvent {
  return dnatEvent({ ts: T0 + 1000 + i * 1000, client, service, backend, ctId: (++seq).toString(16) });
}

/** Web selections: IPv4 clients to the IPv4 address, IPv6 ones to the IPv6 address, backends round robin. */
function webTraffic(v4: number, v6: number): { events: StickyEvent[]; byBackend: Map<string, number> } {
  const events: StickyEvent[] = [];
  const byBackend = new Map<string, number>();
  for (let i = 0; i < v4 + v6; i++) {
    const six = i >= v4;
    const n = (i % 3) + 1;
    const backend = six ? `[fd00:1:${n}::2]:8080` : `10.1.${n}.2:8080`;
    byBackend.set(backend, (byBackend.get(backend) ?? 0) + 1);
    const client = six ? `[fd00:0:${(i % 5) + 1}::2]:${40000 + i}` : `10.0.${(i % 5) + 1}.2:${40000 + i}`;
    events.push(pick(client, six ? '[fd00:96::10]:80' : '10.96.0.10:80', backend, i));
  }
  return { events, byBackend };
}

test('report: a dual-stack Service is one row with per-family counts; other Services are too', () => {
  const state = createState({ windowSeconds: 600 });
  const { events, byBackend } = webTraffic(30, 12);
  applyEvents(state, [nodeCatalog(), ...events]);
  const report = buildReport(state, { scope: 'cumulative' });
  const names = report.services.map((s) => s.name);
  assert.deepEqual(
    names,
    [
      'lab/lb:http',
      'lab/web:http',
      'lab/sticky:http',
      'lab/dns:dns',
      'lab/edge:http',
      'lab/empty:http',
      'lab/solo:http',
    ],
    'seven Services (the one without endpoints too: one row for both its families; the load balancer one for its cluster, load-balancer and external IPs)',
  );
  const web = report.services.find((s) => s.name === 'lab/web:http')!;
  assert.equal(web.service, '10.96.0.10:80/tcp');
  assert.deepEqual(web.addresses, ['10.96.0.10:80/tcp', '[fd00:96::10]:80/tcp']);
  assert.deepEqual(web.families, { ipv4: 30, ipv6: 12 });
  assert.equal(web.selections, 42);
  // No pods in the rules: a backend is an address, both families' listed (K = 4 + 3: the IPv4 table is the two-node
  // lab's, whose fourth backend got nothing here).
  assert.deepEqual(
    web.backends.filter((b) => b.selections > 0).map((b) => [b.backend, b.selections]),
    [...byBackend].sort(([a], [b]) =>
      a.startsWith('[') === b.startsWith('[') ? (a < b ? -1 : 1) : a.startsWith('[') ? 1 : -1,
    ),
  );
  assert.equal(web.stickiness.expectedRandom, 1 / 7);
  // A Service with no IPv6 selections yet still says it has an IPv6 address.
  assert.deepEqual(report.services.find((s) => s.name === 'lab/sticky:http')!.families, { ipv4: 0, ipv6: 0 });
  const md = renderMarkdown(report);
  assert.match(
    md,
    /Addresses: 10\.96\.0\.10:80\/tcp, \\\[fd00:96::10\\\]:80\/tcp\. Selections by family: IPv4 30, IPv6 12\./,
  );
  // Markdown escapes the brackets: they render as [v6]:port.
  assert.match(md, /\| \\\[fd00:1:1::2\\\]:8080 \| 4 \|/);
});

test('the window count by family follows selections out of the window', () => {
  const state = createState({ windowSeconds: 0.02 });
  const { events } = webTraffic(30, 12);
  applyEvents(state, [nodeCatalog(), ...events]);
  const web = buildReport(state, { scope: 'window' }).services.find((s) => s.name === 'lab/web:http')!;
  // 20 ms of 1 ms-spaced selections: the last 21 (the 12 IPv6 ones among them).
  assert.deepEqual(web.families, { ipv4: web.selections - 12, ipv6: 12 });
  assert.equal(web.selections, 21);
});

test('the API catalog: a Service with clusterIPs in both families, its pods one backend each', () => {
  const svc = {
    metadata: { namespace: 'shop', name: 'cart' },
    spec: {
      ipFamilies: ['IPv4', 'IPv6'],
      clusterIP: '10.96.5.5',
      clusterIPs: ['10.96.5.5', 'fd00:96::5:5'],
      sessionAffinity: 'ClientIP',
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    },
  } as V1Service;
  const slice = (family: 'IPv4' | 'IPv6', ips: string[]) =>
    ({
      metadata: { namespace: 'shop', name: `cart-${family}`, labels: { 'kubernetes.io/service-name': 'cart' } },
      addressType: family,
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: ips.map((ip, i) => ({ addresses: [ip], targetRef: { kind: 'Pod', name: `cart-${i}` } })),
    }) as V1EndpointSlice;
  const services = buildCatalog(
    [svc],
    [slice('IPv4', ['10.1.9.1', '10.1.9.2']), slice('IPv6', ['fd00:1:9::1', 'fd00:1:9::2'])],
  );
  assert.equal(services.length, 2, 'one entry per family, as the API catalog sends them');
  const state = createState({ windowSeconds: 600 });
  const catalog: CatalogEvent = { type: 'catalog', ts: T0, node: CLUSTER_NODE, services };
  const sel = (i: number, six: boolean, pod: number) =>
    six
      ? { ...pick(`[fd00:0:1::${i + 1}]:1000`, '[fd00:96::5:5]:80', `[fd00:1:9::${pod + 1}]:8080`, i) }
      : { ...pick(`10.0.1.${i + 1}:1000`, '10.96.5.5:80', `10.1.9.${pod + 1}:8080`, i) };
  applyEvents(state, [catalog, sel(0, false, 0), sel(1, true, 0), sel(2, true, 1), sel(3, false, 0)]);
  const report = buildReport(state, { scope: 'cumulative' });
  assert.equal(report.services.length, 1);
  const cart = report.services[0]!;
  assert.equal(cart.name, 'shop/cart:http');
  assert.deepEqual(cart.families, { ipv4: 2, ipv6: 2 });
  assert.deepEqual(
    cart.backends.map((b) => [b.addresses, b.selections]),
    [
      [['10.1.9.1:8080', '[fd00:1:9::1]:8080'], 3],
      [['10.1.9.2:8080', '[fd00:1:9::2]:8080'], 1],
    ],
    'a pod is one backend, whichever family picked it',
  );
  assert.equal(cart.stickiness.expectedRandom, 1 / 2, 'K counts pods');

  // cart-0 comes back under its name with new addresses (a StatefulSet's pod): a new backend, both families again.
  const moved = buildCatalog(
    [svc],
    [slice('IPv4', ['10.1.9.7', '10.1.9.2']), slice('IPv6', ['fd00:1:9::7', 'fd00:1:9::2'])],
  );
  applyEvents(state, [{ ...catalog, ts: T0 + 10_000, services: moved }]);
  const after = buildReport(state, { scope: 'cumulative' }).services[0]!;
  assert.deepEqual(
    after.backends.map((b) => b.addresses),
    [
      ['10.1.9.1:8080', '[fd00:1:9::1]:8080'],
      ['10.1.9.2:8080', '[fd00:1:9::2]:8080'],
      ['10.1.9.7:8080', '[fd00:1:9::7]:8080'],
    ],
  );
});

test('frontends join: a load-balancer address beside both cluster IPs; what had traffic first stays apart', () => {
  const state = createState({ windowSeconds: 600 });
  const info = (service: string) => ({
    service,
    name: 'lab/lb:http',
    affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
    endpoints: [],
  });
  // A load-balancer address beside the cluster IPs: kube-proxy's affinity is the Service port's, whichever address.
  applyEvents(state, [
    {
      type: 'catalog',
      ts: T0,
      node: 'n1',
      services: ['10.96.0.9:80/tcp', '192.0.2.9:80/tcp', '[fd00:96::9]:80/tcp'].map(info),
    },
    pick('10.0.0.1:1', '10.96.0.9:80', '10.1.1.1:80', 1000),
    pick('10.0.0.1:2', '192.0.2.9:80', '10.1.1.1:80', 2000),
    pick('10.0.0.1:3', '192.0.2.9:80', '10.1.1.1:80', 3000),
    pick('[fd00::1]:1', '[fd00:96::9]:80', '[fd00:1::1]:80', 4000),
  ]);
  const [one, ...more] = buildReport(state, { scope: 'cumulative' }).services;
  assert.deepEqual(more, []);
  assert.equal(one!.selections, 4);
  assert.deepEqual(one!.frontends, [
    { address: '10.96.0.9:80/tcp', selections: 1 },
    { address: '192.0.2.9:80/tcp', selections: 2 },
    { address: '[fd00:96::9]:80/tcp', selections: 1 },
  ]);
  assert.deepEqual(one!.families, { ipv4: 3, ipv6: 1 });
  assert.equal(one!.stickiness.pairs, 2, "the client's pairs span the cluster IP and the load-balancer address");
  const late = createState({ windowSeconds: 600 });
  applyEvents(late, [
    pick('10.0.0.1:1', '10.96.0.8:80', '10.1.1.1:80', 0),
    pick('[fd00::1]:1', '[fd00:96::8]:80', '[fd00:1::1]:80', 1),
  ]);
  applyEvents(late, [
    { type: 'catalog', ts: T0 + 5000, node: 'n1', services: ['10.96.0.8:80/tcp', '[fd00:96::8]:80/tcp'].map(info) },
  ]);
  assert.equal(buildReport(late, { scope: 'cumulative' }).services.length, 2);
});

test('serve /metrics: one Service, its selections of both families', () => {
  const state = createState({ windowSeconds: 600 });
  applyEvents(state, [nodeCatalog(), ...webTraffic(9, 6).events]);
  const web = serviceSnapshot(state, 100).services.filter((s) => s.service === 'lab/web:http');
  assert.equal(web.length, 1);
  assert.equal(web[0]!.selectionsTotal, 15);
  assert.ok(web[0]!.backends.some((b) => b.backend === '[fd00:1:2::2]:8080'));
  assert.deepEqual(web[0]!.familyTotal, { ipv4: 9, ipv6: 6 });
});

test('serve /metrics text: the family counter of a dual-stack Service, none for an IPv4-only one', async () => {
  const hub = new ServeHub({ windows: [600] });
  const v4only: CatalogEvent = {
    type: 'catalog',
    ts: T0,
    node: 'n2',
    services: [
      {
        service: '10.96.9.9:80/tcp',
        name: 'lab/old:http',
        affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
        endpoints: ['10.1.9.9:80'],
      },
    ],
  };
  hub.apply([nodeCatalog(), v4only, ...webTraffic(9, 6).events, pick('10.0.0.1:1', '10.96.9.9:80', '10.1.9.9:80', 99)]);
  const text = await createServeMetrics(hub, new AgentBook(), 100).scrape();
  const family = [...text.matchAll(/^stickyscope_service_family_selections_total\{(.*)\} (\d+)$/gm)].map(
    (m) => `${m[1]} ${m[2]}`,
  );
  assert.ok(family.includes('service="lab/web:http",address="10.96.0.10:80/tcp",family="ipv6" 6'), family.join('\n'));
  assert.ok(family.includes('service="lab/web:http",address="10.96.0.10:80/tcp",family="ipv4" 9'));
  assert.ok(!family.some((l) => l.includes('lab/old')), 'no IPv6 address, no family series');
  assert.match(
    text,
    /^stickyscope_service_selections_total\{service="lab\/old:http",address="10\.96\.9\.9:80\/tcp"\} 1$/m,
  );
});

test('TUI: the dual-stack Service is one line; its detail prints [v6]:port and the counts by family', async (t) => {
  const source = new AggregatorFrameSource(createState({ windowSeconds: 600 }), 'synthetic');
  const long = '2001:db8:1234:5678:9abc:def0:1234:5678';
  source.push([
    nodeCatalog(),
    ...webTraffic(30, 11).events,
    pick(`[${long}]:40000`, '[fd00:96::10]:80', '[fd00:1:3::2]:8080', 41),
  ]);
  const app = render(<App source={source} fps={50} />);
  t.after(() => app.unmount());
  const text = () => plain(app.lastFrame() ?? '');
  await waitFor(
    'the Services',
    screenHolds(text, (s) => s.includes('lab/web:http')),
    3000,
  );
  assert.equal(
    text()
      .split('\n')
      .filter((l) => l.includes('lab/web:http')).length,
    1,
    text(),
  );
  // The filter finds it by its IPv6 address, in the [v6]:port form.
  app.stdin.write('/');
  await waitFor(
    'the filter prompt',
    screenHolds(text, (s) => s.includes('filter /')),
    3000,
  );
  app.stdin.write('[fd00:96::10]:80');
  await waitFor(
    'the filter text',
    screenHolds(text, (s) => s.includes('filter /[fd00:96::10]:80')),
    3000,
  );
  app.stdin.write('\r');
  await waitFor(
    'only web listed',
    screenHolds(text, (s) => s.includes("filter: '[fd00:96::10]:80'") && !s.includes('lab/dns')),
    3000,
  );
  app.stdin.write('\r');
  await waitFor(
    'the detail',
    screenHolds(text, (s) => s.includes('IPv6 12')),
    3000,
  );
  assert.match(text(), /frontends 10\.96\.0\.10:80\/tcp 30 {2}\[fd00:96::10\]:80\/tcp 12 {2}IPv4 30 {2}IPv6 12/);
  assert.match(text(), /\[fd00:1:3::2\]:8080/);
  assert.match(text(), /fd00:0:\d::2/, 'IPv6 clients listed');
  assert.ok(text().includes(long), `a full IPv6 client address is not cut:\n${text()}`);
});
