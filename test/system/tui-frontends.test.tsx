// The demo's edge Service on a real lab: clients reach lab/edge:http through its cluster IP and through its NodePort,
// as the demo's traffic does. Recorded from the node's agent (given the lab's pod names, as the demo's is) and fed to
// the TUI: its main screen lists lab/edge:http once, and the detail view gives the selections through each frontend,
// equal to the connections the backends logged from each client, with the backends named by their pods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labUp, readBackendLogs, runClient } from '../../src/lab/lab.js';
import type { StickyEvent } from '../../src/core/event.js';
import { createState } from '../../src/aggregator/state.js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { readTrace } from '../../src/record/trace-reader.js';
import { AggregatorFrameSource } from '../../src/tui/aggregator-source.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { startCli, type CliRun } from '../helpers/cli.js';
import { startAgents, type LabAgents } from '../helpers/agents.js';

const { render } = await import('ink-testing-library');
const { App } = await import('../../src/tui/app.js');

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

async function until(what: string, check: () => boolean, ms: number, screen?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${screen ? `; the screen:\n${screen()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('lab/edge:http is one row; its detail counts the cluster IP and the NodePort as the backends logged them', {
  timeout: 120_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-frontends-`));
  let agents: LabAgents | undefined;
  let rec: CliRun | undefined;
  let watch: AgentConnection | undefined;
  t.after(async () => {
    if (rec && rec.child.exitCode === null && rec.child.signalCode === null) rec.child.kill('SIGKILL');
    await rec?.exit;
    await watch?.stop();
    await agents?.stopAll();
    await labDown(prefix);
    rmSync(dir, { recursive: true, force: true });
  });
  const lab = await labUp({ prefix });
  agents = await startAgents(t, lab, [0], { pods: true });
  const address = agents.addresses()[0]!;
  const trace = join(dir, 'edge.trace');
  rec = startCli(['record', '--agent', address, '-w', trace, ...agents.clientArgs()]);
  await rec.waitFor(new RegExp(`agent ${address.replace(/\./g, '\\.')} \\(${lab.nodes[0]}\\) up`));
  const edgeFlows: StickyEvent[] = [];
  const ticks: number[] = [];
  watch = new AgentConnection(address, {}, undefined, undefined, agents.link(0));
  watch.on('events', (events: StickyEvent[]) => {
    for (const e of events) {
      if (e.type === 'dnat' && e.serviceName === 'lab/edge:http') edgeFlows.push(e);
      if (e.type === 'counters') ticks.push(Date.now());
    }
  });

  // A pod client through the cluster IP, the external client through node 1's NodePort (the demo's two paths).
  const pod = lab.clients.find((c) => !c.external)!;
  const external = lab.clients.find((c) => c.external)!;
  const [viaCluster, viaNodePort] = await Promise.all([
    runClient(lab, pod.name, { service: 'lab/edge:http', mode: 'http', count: 7 }),
    runClient(lab, external.name, { service: 'lab/edge:http', mode: 'http', count: 5, via: 'nodePort' }),
  ]);
  const results = [...viaCluster, ...viaNodePort];
  assert.deepEqual(
    results.filter((r) => r.answer === null),
    [],
    'every request is answered',
  );
  const clusterTarget = viaCluster[0]!.target;
  const nodePortTarget = viaNodePort[0]!.target;
  assert.notEqual(clusterTarget, nodePortTarget);

  // Ground truth: the backends' logs, one line per connection; the pod client's are those through the cluster IP.
  const logs = await readBackendLogs(lab);
  assert.equal(logs.length, results.length, 'one log line per connection');
  const podIp = pod.ip;
  const throughCluster = logs.filter((l) => l.peer.slice(0, l.peer.lastIndexOf(':')) === podIp).length;
  const throughNodePort = logs.length - throughCluster;
  assert.equal(throughCluster, viaCluster.length);
  assert.equal(throughNodePort, viaNodePort.length);

  await until('the agent to have sent every edge flow', () => edgeFlows.length === logs.length, 10_000);
  const after = Date.now();
  await until(
    'a counters event after them (the recorder has read past them)',
    () => ticks.some((x) => x > after),
    5000,
  );
  rec.child.kill('SIGINT');
  assert.equal((await rec.exit).code, 0, rec.stderr());

  const source = new AggregatorFrameSource(createState({ windowSeconds: 3600 }), `replay ${trace}`);
  for await (const batch of readTrace(trace)) source.push(batch);
  const app = render(<App source={source} fps={50} />);
  t.after(() => app.unmount());
  const text = () => plain(app.lastFrame() ?? '');
  await until('the services', () => text().includes('lab/edge:http'), 5000, text);
  assert.equal(
    text()
      .split('\n')
      .filter((l) => l.includes('lab/edge:http')).length,
    1,
    `lab/edge:http is one row:\n${text()}`,
  );
  app.stdin.write('/');
  await until('the filter prompt', () => text().includes('filter /'), 3000, text);
  app.stdin.write('edge');
  await until('the filter text', () => text().includes('filter /edge'), 3000, text);
  app.stdin.write('\r');
  await until('the filter kept', () => text().includes("filter: 'edge'"), 3000, text);
  app.stdin.write('\r');
  await until('the edge detail', () => text().includes('frontends '), 3000, text);
  const line = text()
    .split('\n')
    .find((l) => /^last \S+: frontends /.test(l))!;
  const counts = Object.fromEntries([...line.matchAll(/(\S+\/tcp) (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
  assert.deepEqual(
    counts,
    { [`${clusterTarget}/tcp`]: throughCluster, [`${nodePortTarget}/tcp`]: throughNodePort },
    `the detail's frontends: '${line}'`,
  );
  assert.match(text(), /lab\/b\d/, 'the backends are named by their pods');
});
