// `stickyscope report|record --k8s` end to end, as a user runs them: the real executable against the fake API server,
// with a fake agent (the real gRPC server fed by the test) registered as a ready agent pod whose podIP:port is the fake
// agent's loopback address. The expected report is worked out by hand from the events the test sends.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import type { CatalogEvent, StickyEvent } from '../../src/core/event.js';
import { runPrefix } from '../helpers/env.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { EXIT_MARK, runCli, startCli, WATCH_EXIT, type CliRun } from '../helpers/cli.js';
import { loadK8sFixture, startFakeApiServer, type FakeObject } from '../helpers/fake-apiserver.js';
import { waitFor, equals } from '../helpers/wait.js';

const S = 1e6;
const SVC = '10.96.12.34:80';
const [A, B, C] = ['10.1.1.2:8080', '10.1.2.3:8080', '10.1.4.5:8080'];

interface Setup {
  dir: string;
  kubeconfig: string;
  source: FakeSource;
  subscribers(): number;
}

async function setup(t: TestContext): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix()}-k8s-cli-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const source = new FakeSource();
  const agent = getServer(source, { node: 'node-a' });
  const address = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  // node-a's kube-proxy rules: the Service unnamed, ClientIP with kube-proxy's 10800 s.
  const rules: CatalogEvent = {
    type: 'catalog',
    ts: Date.now() * 1000,
    node: 'node-a',
    services: [
      {
        service: `${SVC}/tcp`,
        name: null,
        affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' },
        endpoints: [A, B, C],
      },
    ],
  };
  source.emitEvents([rules]);

  const api = await startFakeApiServer({ dir });
  t.after(() => api.close());
  for (const svc of loadK8sFixture('services.yaml')) {
    // The spec says 30 s where the rules say 10800 s.
    if (svc.metadata.name === 'web')
      (
        svc as FakeObject & { spec: { sessionAffinityConfig: { clientIP: { timeoutSeconds: number } } } }
      ).spec.sessionAffinityConfig.clientIP.timeoutSeconds = 30;
    api.apply('services', svc);
  }
  for (const slice of loadK8sFixture('endpointslices.yaml')) api.apply('endpointslices', slice);
  const pod = structuredClone(
    loadK8sFixture('agent-pods.yaml').find((p) => p.metadata.name === 'stickyscope-agent-aaaaa')!,
  ) as FakeObject & {
    spec: { containers: { ports: { containerPort: number }[] }[] };
    status: { podIP: string };
  };
  pod.status.podIP = '127.0.0.1';
  pod.spec.containers[0]!.ports[0]!.containerPort = Number(address.split(':').at(-1));
  api.apply('pods', pod);
  return { dir, kubeconfig: api.kubeconfig, source, subscribers: () => agent.info().subscribers };
}

/**
 * One client on node-a, after the command subscribed:
 *   +0 A; +20 A (gap 20); +60 B (gap 40); +70 C (gap 10); +110 C (gap 40).
 * With the spec's 30 s: held, expired (moved), violation (B still an endpoint), expired.
 * (With the rules' 10800 s it would be held, violation, violation, held.)
 */
async function sendTimeline(s: Setup, cli: CliRun): Promise<void> {
  await waitFor('the command to subscribe to the fake agent', () => equals(s.subscribers(), 1), 10_000).catch((err) => {
    throw new Error(`${err.message}; stderr: ${cli.stderr()}`);
  });
  const t0 = Date.now() * 1000;
  const picks: [number, string][] = [
    [0, A],
    [20, A],
    [60, B],
    [70, C],
    [110, C],
  ];
  const events: StickyEvent[] = picks.map(([sec, backend], i) =>
    dnat(i, 'node-a', { ts: t0 + sec * S, client: '10.0.0.1:40000', service: SVC, backend }),
  );
  s.source.emitEvents(events);
}

function checkReport(text: string, where: string) {
  const report = JSON.parse(text);
  assert.deepEqual(report.nodes, ['node-a'], `${where}: the API is no node`);
  const web = report.services.find((x: { service: string }) => x.service === `${SVC}/tcp`);
  assert.ok(web, `${where}: ${SVC}/tcp reported`);
  assert.equal(web.name, 'shop/web:http', where);
  assert.deepEqual(web.affinity, { mode: 'ClientIP', timeoutSeconds: 30, source: 'k8s' }, where);
  assert.equal(web.selections, 5, where);
  assert.deepEqual(
    web.backends.map((b: { backend: string; selections: number }) => [b.backend, b.selections]),
    [
      [A, 2],
      [B, 1],
      [C, 2],
    ],
    where,
  );
  assert.deepEqual(
    web.affinityVerdicts,
    {
      held: 1,
      violation: 1,
      forcedRepick: 0,
      expired: 2,
      compliance: 0.5,
      violationCauses: { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 1 },
      pending: 0,
      expiredMoved: 1,
    },
    where,
  );
  // A Service only the API knows is named from it, with its endpoint and no selections.
  const dnsUdp = report.services.find((x: { service: string }) => x.service === '10.96.0.10:53/udp');
  assert.equal(dnsUdp?.name, 'kube-system/kube-dns:dns', where);
  assert.deepEqual(dnsUdp.affinity, { mode: 'ClientIP', timeoutSeconds: 10800, source: 'k8s' }, where);
  assert.equal(dnsUdp.selections, 0, where);
}

test('report --k8s finds the agent pod, names Services from the API and judges with the spec timeout', {
  timeout: 30_000,
}, async (t) => {
  const s = await setup(t);
  const cli = startCli(['report', '--k8s', '--kubeconfig', s.kubeconfig, '--duration', '2s', '--format', 'json'], {
    nodeArgs: WATCH_EXIT,
  });
  t.after(() => cli.child.kill());
  await sendTimeline(s, cli);
  const { code } = await cli.exit;
  assert.equal(code, 0, cli.stderr());
  assert.ok(!cli.stderr().includes(EXIT_MARK), 'ended by itself: the API watches were closed');
  assert.match(cli.stderr(), /listening to 127\.0\.0\.1:\d+ for 2s/, 'stderr names the discovered agent');
  checkReport(cli.stdout(), 'live report');
});

test('record --k8s writes the API catalogs into the trace: a report from the file has the names and the k8s affinity', {
  timeout: 30_000,
}, async (t) => {
  const s = await setup(t);
  const trace = join(s.dir, 'cluster.trace');
  const cli = startCli(['record', '--k8s', '--kubeconfig', s.kubeconfig, '-w', trace, '--duration', '2s'], {
    nodeArgs: WATCH_EXIT,
  });
  t.after(() => cli.child.kill());
  await sendTimeline(s, cli);
  const { code } = await cli.exit;
  assert.equal(code, 0, cli.stderr());
  assert.ok(!cli.stderr().includes(EXIT_MARK), 'ended by itself: the API watches were closed');
  const fromFile = await runCli(['report', trace, '--format', 'json'], { nodeArgs: WATCH_EXIT });
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.ok(!fromFile.stderr.includes(EXIT_MARK), 'a report from a file ended by itself');
  checkReport(fromFile.stdout, 'report from the recorded file');
});

test('each command lists the --k8s flags in its help, and refuses them without --k8s', async () => {
  for (const cmd of ['tui', 'record', 'report']) {
    const help = await runCli([cmd, '--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const flag of ['--k8s', '--namespace N', '--agent-namespace N', '--selector S', '--kubeconfig F'])
      assert.ok(help.stdout.includes(flag), `${cmd} --help shows ${flag}`);
  }
  const r = await runCli(['report', '--agent', '127.0.0.1:1', '--namespace', 'x', '--duration', '1s']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--namespace only applies with --k8s/);
  const agents = await runCli(['report', '--agent', '127.0.0.1:1', '--agent-namespace', 'x', '--duration', '1s']);
  assert.equal(agents.code, 2, agents.stderr);
  assert.match(agents.stderr, /--agent-namespace only applies with --k8s/);
  // serve covers every Service: -n is refused there, pointing at the agents' flag.
  const serve = await runCli(['serve', '--k8s', '-n', 'stickyscope']);
  assert.equal(serve.code, 2, serve.stderr);
  assert.match(
    serve.stderr,
    /-n\/--namespace \(the Services' namespace\) does not apply; for the agent pods' namespace use --agent-namespace stickyscope/,
  );
});
