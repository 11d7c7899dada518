// `kubectl stickyscope` (the kubectl-stickyscope executable) against two fake clusters named by the contexts of one
// kubeconfig, beside `stickyscope` given the same flags: --context picks the cluster, --agent-namespace the agents'
// namespace, -n (as in kubectl) the Services' namespace, and each report holds exactly the events the test sent to
// that cluster's agent.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import { runPrefix } from '../helpers/env.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { cliPath, kubectlPluginPath, runCli, startCli, type CliRun } from '../helpers/cli.js';
import { loadK8sFixture, startFakeApiServer, type FakeApiServer, type FakeObject } from '../helpers/fake-apiserver.js';
import { startTmux } from '../helpers/tmux.js';
import { waitFor, equals } from '../helpers/wait.js';

const plugin = { bin: kubectlPluginPath };
const PUBLIC = ['tui', 'record', 'report', 'export'];

interface Cluster {
  api: FakeApiServer;
  source: FakeSource;
  subscribers(): number;
}

/** A fake API server whose one ready agent pod (in `namespace`, on `node`) is a real agent on loopback. */
async function cluster(t: TestContext, dir: string, node: string, namespace: string): Promise<Cluster> {
  const source = new FakeSource();
  const agent = getServer(source, { node });
  const address = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  mkdirSync(join(dir, node));
  const api = await startFakeApiServer({ dir: join(dir, node) });
  t.after(() => api.close());
  const pod = structuredClone(
    loadK8sFixture('agent-pods.yaml').find((p) => p.metadata.name === 'stickyscope-agent-aaaaa')!,
  ) as FakeObject & {
    spec: { nodeName: string; containers: { ports: { containerPort: number }[] }[] };
    status: { podIP: string };
  };
  pod.metadata.namespace = namespace;
  pod.spec.nodeName = node;
  pod.status.podIP = '127.0.0.1';
  pod.spec.containers[0]!.ports[0]!.containerPort = Number(address.split(':').at(-1));
  api.apply('pods', pod);
  return { api, source, subscribers: () => agent.info().subscribers };
}

/** Contexts east and west, and a current-context 'nowhere' whose server refuses connections. */
function writeKubeconfig(dir: string, east: FakeApiServer, west: FakeApiServer): string {
  const file = join(dir, 'kubeconfig');
  const entries = (kind: string, rows: [string, string][]) => [
    `${kind}:`,
    ...rows.map(([n, body]) => `- name: ${n}\n  ${body}`),
  ];
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      ...entries('clusters', [
        ['nowhere', 'cluster: {server: "http://127.0.0.1:1", insecure-skip-tls-verify: true}'],
        ['east', `cluster: {server: "${east.url}", insecure-skip-tls-verify: true}`],
        ['west', `cluster: {server: "${west.url}", insecure-skip-tls-verify: true}`],
      ]),
      ...entries('users', [
        ['east', `user: {token: ${east.token}}`],
        ['west', `user: {token: ${west.token}}`],
      ]),
      ...entries('contexts', [
        ['nowhere', 'context: {cluster: nowhere, user: east}'],
        ['east', 'context: {cluster: east, user: east}'],
        ['west', 'context: {cluster: west, user: west}'],
      ]),
      'current-context: nowhere',
      '',
    ].join('\n'),
  );
  return file;
}

async function setup(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix()}-kubectl-plugin-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const east = await cluster(t, dir, 'node-east', 'stickyscope');
  const west = await cluster(t, dir, 'node-west', 'tracing');
  return { east, west, kubeconfig: writeKubeconfig(dir, east.api, west.api) };
}

/** A report's nodes and, per Service, its selections per backend. */
interface Expected {
  nodes: string[];
  services: Record<string, Record<string, number>>;
}

/** The report's nodes and, per Service, its selections per backend. */
function summary(cli: CliRun) {
  const report = JSON.parse(cli.stdout());
  const services = Object.fromEntries(
    report.services.map((s: { service: string; backends: { backend: string; selections: number }[] }) => [
      s.service,
      Object.fromEntries(s.backends.map((b) => [b.backend, b.selections])),
    ]),
  );
  return { nodes: report.nodes, services };
}

test('kubectl-stickyscope report --k8s: --context picks the cluster and --agent-namespace the agents, as stickyscope does', {
  timeout: 60_000,
}, async (t) => {
  const s = await setup(t);
  const json = ['--duration', '2s', '--format', 'json'];
  const svc = '10.96.7.7:80';
  const east: Expected = { nodes: ['node-east'], services: { [`${svc}/tcp`]: { '10.1.1.1:8080': 3 } } };
  const west: Expected = { nodes: ['node-west'], services: { [`${svc}/tcp`]: { '10.2.2.2:8080': 2 } } };
  /** Sends the cluster's events once the command subscribed to its agent, and checks the report against them. */
  const check = async (name: string, cli: CliRun, c: Cluster, expected: Expected) => {
    t.after(() => cli.child.kill());
    await waitFor(`${name} to subscribe`, () => equals(c.subscribers(), 1), 20_000).catch((err) => {
      throw new Error(`${err.message}; stderr: ${cli.stderr()}`);
    });
    const [backend, count] = Object.entries(expected.services[`${svc}/tcp`]!)[0]!;
    const ts = Date.now() * 1000;
    c.source.emitEvents(
      Array.from({ length: count }, (_, i) =>
        dnat(i, expected.nodes[0]!, { ts: ts + i, client: '10.0.0.1:40000', service: svc, backend }),
      ),
    );
    const { code } = await cli.exit;
    assert.equal(code, 0, `${name}: ${cli.stderr()}`);
    assert.deepEqual(summary(cli), expected, name);
  };
  // One binary at a time, each agent serving one command, so every command sees exactly its cluster's events.
  await Promise.all([
    check(
      'plugin east',
      startCli(['report', '--k8s', '--kubeconfig', s.kubeconfig, '--context', 'east', ...json], plugin),
      s.east,
      east,
    ),
    // kubectl's habit: global flags before the command.
    check(
      'plugin west',
      startCli(
        ['--context', 'west', '--agent-namespace', 'tracing', '--kubeconfig', s.kubeconfig, 'report', '--k8s', ...json],
        plugin,
      ),
      s.west,
      west,
    ),
  ]);
  await Promise.all([
    check(
      'stickyscope east',
      startCli(['report', '--k8s', '--kubeconfig', s.kubeconfig, '--context', 'east', ...json]),
      s.east,
      east,
    ),
    check(
      'stickyscope west',
      startCli([
        'report',
        '--k8s',
        '--kubeconfig',
        s.kubeconfig,
        '--context=west',
        '--agent-namespace=tracing',
        ...json,
      ]),
      s.west,
      west,
    ),
  ]);
  // Each cluster was asked for agent pods only in its namespace, and the refusing current-context never at all.
  const podPaths = (api: FakeApiServer) =>
    new Set(api.requests.filter((r) => r.path.endsWith('/pods')).map((r) => r.path));
  assert.deepEqual([...podPaths(s.east.api)], ['/api/v1/namespaces/stickyscope/pods']);
  assert.deepEqual([...podPaths(s.west.api)], ['/api/v1/namespaces/tracing/pods']);
});

test('without --context the current-context is used; an unknown context or --context without --k8s is refused', {
  timeout: 30_000,
}, async (t) => {
  const s = await setup(t);
  const k8s = ['report', '--k8s', '--kubeconfig', s.kubeconfig, '--duration', '1s'];
  // Both executables, all runs at once: each is independent of the others.
  await Promise.all(
    [plugin, {}].map(async (opts) => {
      const name = opts === plugin ? 'kubectl stickyscope' : 'stickyscope';
      const [current, unknown, alone] = await Promise.all([
        runCli(k8s, opts),
        runCli([...k8s, '--context', 'north'], opts),
        runCli(['report', '--agent', '127.0.0.1:1', '--context', 'east', '--duration', '1s'], opts),
      ]);
      assert.equal(current.code, 3, current.stderr);
      assert.match(
        current.stderr,
        new RegExp(`^${name} report: failed to list agent pods .* at http://127\\.0\\.0\\.1:1: `),
      );
      assert.equal(unknown.code, 4, unknown.stderr);
      assert.equal(
        unknown.stderr,
        `${name} report: failed to find context 'north' in the kubeconfig; it has: nowhere, east, west\n`,
      );
      assert.equal(alone.code, 2, alone.stderr);
      assert.match(alone.stderr, new RegExp(`^${name} report: --context only applies with --k8s`));
    }),
  );
});

test('kubectl-stickyscope help names it kubectl stickyscope, offers the cluster commands, and their flags match', async () => {
  for (const args of [[], ['--help']]) {
    const r = await runCli(args, plugin);
    assert.equal(r.code, args.length ? 0 : 2, r.stderr);
    assert.match(r.stdout, /^Usage: kubectl stickyscope <command> \[options\]\n/);
    const listed = [...r.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
    assert.deepEqual(listed, PUBLIC, `${args.join(' ') || 'no arguments'}: the commands listed`);
  }
  const flags = (text: string) => [...text.matchAll(/^ {2}(-\S.*?) {2,}/gm)].map((m) => m[1]);
  await Promise.all(
    PUBLIC.map(async (cmd) => {
      const [ours, theirs] = await Promise.all([
        runCli([cmd, '--help'], plugin),
        runCli([cmd, '--help'], { bin: cliPath }),
      ]);
      assert.equal(ours.code, 0, ours.stderr);
      assert.ok(ours.stdout.startsWith(`Usage: kubectl stickyscope ${cmd} `), `${cmd}: ${ours.stdout.split('\n')[0]}`);
      assert.doesNotMatch(
        ours.stdout,
        /(?<!kubectl )stickyscope (tui|record|report|export)\b/,
        `${cmd}: every mention renamed`,
      );
      assert.deepEqual(flags(ours.stdout), flags(theirs.stdout), `${cmd}: the same flags as stickyscope ${cmd}`);
      assert.ok(flags(ours.stdout).length >= 2, `${cmd}: flags found in the help`);
    }),
  );
  const k8s = await runCli(['tui', '--help'], plugin);
  for (const flag of ['--context C', '-n, --namespace N', '--agent-namespace N', '--kubeconfig F'])
    assert.ok(k8s.stdout.includes(flag), flag);
  // Who used -n for the agents' namespace is told what it means now.
  assert.match(k8s.stdout, /-n used to name the agent pods' namespace: that is --agent-namespace now/);
  const top = await runCli(['--help'], plugin);
  assert.match(top.stdout, /-n, as in kubectl, keeps\nonly the Services of that namespace/);
  const lab = await runCli(['lab', 'up'], plugin);
  assert.equal(lab.code, 2);
  assert.match(
    lab.stderr,
    /^kubectl stickyscope lab: unknown command 'lab'; expected one of: tui, record, report, export\n/,
  );
});

test('kubectl-stickyscope tui --k8s shows the chosen cluster live, as stickyscope tui --k8s does', {
  timeout: 60_000,
}, async (t) => {
  const s = await setup(t);
  const svc = '10.96.7.7:80';
  const tui = ['--k8s', '--kubeconfig', s.kubeconfig, '--fps', '20'];
  for (const [name, bin, args] of [
    // kubectl passes its global flags before the command; stickyscope takes them after it.
    ['kubectl-stickyscope', kubectlPluginPath, ['--context', 'west', '--agent-namespace', 'tracing', 'tui', ...tui]],
    ['stickyscope', cliPath, ['tui', '--context', 'west', '--agent-namespace', 'tracing', ...tui]],
  ] as const) {
    const term = startTmux(`${process.execPath} ${bin} ${args.join(' ')}`, { cols: 160, rows: 30 });
    t.after(() => term.kill());
    await waitFor(`${name} to subscribe to the west agent`, () => equals(s.west.subscribers(), 1), 20_000).catch(
      (err) => {
        throw new Error(`${err.message}; screen:\n${term.capture()}`);
      },
    );
    const ts = Date.now() * 1000;
    s.west.source.emitEvents(
      Array.from({ length: 4 }, (_, i) =>
        dnat(i, 'node-west', { ts: ts + i, client: '10.0.0.1:40000', service: svc, backend: '10.2.2.2:8080' }),
      ),
    );
    const screen = await term.waitForText(`${svc}/tcp`, 15_000);
    assert.match(screen, /nodes 1\b/, `${name}: one node reporting`);
    assert.equal(s.east.subscribers(), 0, `${name}: the east cluster's agent is left alone`);
    term.sendKeys('q');
    assert.equal((await term.waitForExit()).code, 0, `${name}: q quits with 0`);
    term.kill();
    await waitFor(`${name} to unsubscribe`, () => equals(s.west.subscribers(), 0), 10_000);
  }
});

test('kubectl stickyscope -n NS: only the Services of namespace NS, as kubectl -n; a namespace without Services is refused', {
  timeout: 60_000,
}, async (t) => {
  const s = await setup(t);
  for (const svc of loadK8sFixture('services.yaml')) s.west.api.apply('services', svc);
  for (const slice of loadK8sFixture('endpointslices.yaml')) s.west.api.apply('endpointslices', slice);
  const k8s = ['--context', 'west', '--agent-namespace', 'tracing', '--kubeconfig', s.kubeconfig];
  const cli = startCli(['-n', 'shop', ...k8s, 'report', '--k8s', '--duration', '2s', '-o', 'json'], plugin);
  t.after(() => cli.child.kill());
  await waitFor('the report to subscribe', () => equals(s.west.subscribers(), 1), 20_000).catch((err) => {
    throw new Error(`${err.message}; stderr: ${cli.stderr()}`);
  });
  const ts = Date.now() * 1000;
  // Three selections of shop/web and two of kube-system/kube-dns: only shop's reach the report.
  s.west.source.emitEvents([
    ...[0, 1, 2].map((i) =>
      dnat(i, 'node-west', {
        ts: ts + i,
        service: '10.96.12.34:80',
        serviceName: 'shop/web:http',
        backend: '10.1.1.2:8080',
      }),
    ),
    ...[3, 4].map((i) =>
      dnat(i, 'node-west', {
        ts: ts + i,
        proto: 'udp',
        service: '10.96.0.10:53',
        serviceName: 'kube-system/kube-dns:dns',
        backend: '10.1.0.5:53',
      }),
    ),
  ]);
  const { code } = await cli.exit;
  assert.equal(code, 0, cli.stderr());
  const report = JSON.parse(cli.stdout()) as {
    services: { service: string; name: string | null; selections: number }[];
  };
  const names = report.services.map((x) => x.name ?? x.service);
  assert.ok(names.length > 0 && names.every((n) => n.startsWith('shop/')), `only shop's Services: ${names.join(', ')}`);
  assert.equal(report.services.find((x) => x.name === 'shop/web:http')?.selections, 3);

  const none = await runCli(['-n', 'nowhere', ...k8s, 'report', '--k8s', '--duration', '1s'], plugin);
  assert.equal(none.code, 2, none.stderr);
  assert.match(
    none.stderr,
    /^kubectl stickyscope report: -n nowhere: the Kubernetes API lists no Service in namespace 'nowhere'; namespaces with Services: kube-system, shop/,
  );
  const elsewhere = await runCli(
    ['-n', 'shop', ...k8s, 'report', '--k8s', '--service', 'kube-system/kube-dns', '--duration', '1s'],
    plugin,
  );
  assert.equal(elsewhere.code, 2, elsewhere.stderr);
  assert.match(elsewhere.stderr, /--service kube-system\/kube-dns is not in namespace 'shop' \(-n shop\)/);
});
