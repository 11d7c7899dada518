// `stickyscope agent` for real: a node namespace with kube-proxy-style rules, the agent
// attached to it, one connection through the Service, checked against conntrack; then
// SIGTERM ends the streams, removes the ready file and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentConnection, type AgentStatus } from '../../src/protocol/agent-connection.js';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../../src/core/event.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

const bin = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));

test('usage errors exit 2 and say what was expected', () => {
  const r = (() => {
    try {
      execFileSync(process.execPath, [bin, 'agent', '--listen', 'nowhere'], { stdio: 'pipe' });
      return { status: 0, stderr: '' };
    } catch (err) {
      const e = err as { status: number; stderr: Buffer };
      return { status: e.status, stderr: e.stderr.toString() };
    }
  })();
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--listen expects HOST:PORT.*got 'nowhere'/);
});

test('the agent serves a node namespace: catalog, a named dnat matching conntrack, clean SIGTERM', {
  timeout: 60_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const ns = `${runPrefix()}-agent`;
  const dir = mkdtempSync(join(tmpdir(), 'ss-agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  execFileSync('ip', ['-n', ns, '-batch', '-'], {
    input:
      'link set lo up\nlink add v0 type veth peer name v1\nlink set v0 up\nlink set v1 up\naddr add 10.77.9.1/24 dev v0\naddr add 10.77.9.2/24 dev v1\nroute add 10.97.0.0/16 dev v0\n',
  });
  const rules = `*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-E2EWEBAAAAAAAAAA - [0:0]
:KUBE-SEP-E2EWEBBBBBBBBBBB - [0:0]
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.97.0.10/32 -p tcp -m comment --comment "e2e/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-E2EWEBAAAAAAAAAA
-A KUBE-SVC-E2EWEBAAAAAAAAAA -m comment --comment "e2e/web:http -> 10.77.9.2:8080" -m recent --rcheck --seconds 30 --reap --name KUBE-SEP-E2EWEBBBBBBBBBBB --mask 255.255.255.255 --rsource -j KUBE-SEP-E2EWEBBBBBBBBBBB
-A KUBE-SVC-E2EWEBAAAAAAAAAA -m comment --comment "e2e/web:http -> 10.77.9.2:8080" -j KUBE-SEP-E2EWEBBBBBBBBBBB
-A KUBE-SEP-E2EWEBBBBBBBBBBB -p tcp -m comment --comment "e2e/web:http" -m recent --set --name KUBE-SEP-E2EWEBBBBBBBBBBB --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.77.9.2:8080
COMMIT
`;
  execFileSync('ip', ['netns', 'exec', ns, 'iptables-restore'], { input: rules });

  const ready = join(dir, 'ready');
  const agent = spawn(
    process.execPath,
    [
      bin,
      'agent',
      '--netns',
      `/run/netns/${ns}`,
      '--listen',
      '127.0.0.1:0',
      '--node-name',
      'e2e-node',
      '--ready-file',
      ready,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  agent.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  });
  await waitFor('the ready file', () => existsSync(ready) || agent.exitCode !== null, 20_000);
  assert.ok(existsSync(ready), `agent exited early: ${stderr}`);
  const address = readFileSync(ready, 'utf8').trim();
  assert.match(address, /^127\.0\.0\.1:\d+$/);

  const conn = new AgentConnection(address, { services: ['e2e/web'] });
  t.after(() => conn.stop());
  const got: StickyEvent[] = [];
  const statuses: AgentStatus[] = [];
  conn.on('events', (events: StickyEvent[]) => got.push(...events));
  conn.on('status', (s: AgentStatus) => statuses.push(s));
  await waitFor('the catalog', () => got.some((e) => e.type === 'catalog'), 10_000);
  const catalog = got.find((e) => e.type === 'catalog') as CatalogEvent;
  assert.deepEqual(catalog.services, [
    {
      service: '10.97.0.10:80/tcp',
      name: 'e2e/web:http',
      affinity: { mode: 'ClientIP', timeoutSeconds: 30, source: 'rules' },
      endpoints: ['10.77.9.2:8080'],
    },
  ]);
  assert.equal(statuses[0]?.node, 'e2e-node');

  // One connection through the Service to a backend that accepts it (so conntrack keeps the entry to compare).
  const backend = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'python3',
      '-c',
      "import socket,time\ns=socket.socket()\ns.bind(('10.77.9.2',8080))\ns.listen()\nprint('ok',flush=True)\nc=s.accept()\ntime.sleep(30)",
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  t.after(() => backend.kill());
  await new Promise((resolve) => backend.stdout.once('data', resolve));
  execFileSync('ip', ['netns', 'exec', ns, 'timeout', '2', 'bash', '-c', 'exec 3<>/dev/tcp/10.97.0.10/80'], {
    stdio: 'ignore',
  });
  await waitFor('the dnat event', () => got.some((e) => e.type === 'dnat'), 10_000);
  const sel = got.filter((e): e is DnatEvent => e.type === 'dnat');
  assert.equal(sel.length, 1);
  const ct = execFileSync('ip', ['netns', 'exec', ns, 'conntrack', '-L', '-p', 'tcp', '--orig-dst', '10.97.0.10'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  const m = /src=(\S+) dst=10\.97\.0\.10 sport=(\d+) dport=80 src=(\S+) dst=\S+ sport=(\d+)/.exec(ct);
  assert.ok(m, `conntrack shows the connection: ${ct}`);
  assert.equal(sel[0]!.client, `${m[1]}:${m[2]}`);
  assert.equal(sel[0]!.service, '10.97.0.10:80');
  assert.equal(sel[0]!.backend, `${m[3]}:${m[4]}`);
  assert.equal(sel[0]!.serviceName, 'e2e/web:http');
  assert.equal(sel[0]!.node, 'e2e-node');

  agent.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.ok(!existsSync(ready), 'the ready file is removed');
  await waitFor('the client to see the stream end', () => statuses.some((s) => s.state === 'down'), 10_000);
  assert.match(statuses.find((s) => s.state === 'down')!.reason ?? '', /ended the stream|failed/);
});
