// agent --pods: the pod names a lab node's agent is given (the lab's pods.json) reach its catalogs and flows as the
// Kubernetes API's would: each endpoint's pod, by "ip:port", NodePorts learned from traffic included; the file is
// read again when it changes, and a bad one is refused with a line that says what was wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../../src/agent/agent.js';
import { parsePodNames } from '../../src/agent/pod-names.js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../../src/core/event.js';
import { InputError } from '../../src/core/errors.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { waitFor } from '../helpers/wait.js';

const rules = readFileSync(new URL('../../../test/fixtures/rules-current-kube-proxy.txt', import.meta.url), 'utf8');

test('catalogs and flows name the pods the --pods file names; a change is read again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-pods-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pods.json');
  writeFileSync(file, JSON.stringify({ pods: { '10.1.1.2': 'lab/b1', '10.1.2.2': 'lab/b2' } }));
  const probe = new FakeSource();
  const agent = await startAgent(probe, {
    node: 'n1',
    listen: '127.0.0.1:0',
    rulesIntervalMs: 30,
    readRules: async () => rules,
    podsFile: file,
  });
  t.after(() => agent.stop());
  const conn = new AgentConnection(agent.address, {}, { initialMs: 50, maxMs: 200 });
  t.after(() => conn.stop());
  const got: StickyEvent[] = [];
  conn.on('events', (events: StickyEvent[]) => got.push(...events));
  const catalogs = () => got.filter((e): e is CatalogEvent => e.type === 'catalog');
  await waitFor('the first catalog', () => catalogs().length === 1, 10_000);
  const web = (c: CatalogEvent, key = '10.96.0.10:80/tcp') => c.services.find((s) => s.service === key)!;
  assert.deepEqual(web(catalogs()[0]!).pods, { '10.1.1.2:8080': 'lab/b1', '10.1.2.2:8080': 'lab/b2' });

  probe.emitEvents([
    dnat(1, 'n1', { service: '10.96.0.10:80', backend: '10.1.2.2:8080' }),
    dnat(2, 'n1', { service: '10.50.0.1:30080', backend: '10.1.1.2:8080' }),
    dnat(3, 'n1', { service: '10.96.0.10:80', backend: '10.1.3.2:8080' }),
  ]);
  await waitFor('the flows', () => got.filter((e) => e.type === 'dnat').length === 3, 10_000);
  const flows = got.filter((e): e is DnatEvent => e.type === 'dnat');
  assert.deepEqual(
    flows.map((e) => e.backendPod ?? null),
    ['lab/b2', 'lab/b1', null],
  );
  assert.equal(web(catalogs().at(-1)!, '10.50.0.1:30080/tcp').pods?.['10.1.1.2:8080'], 'lab/b1', 'the NodePort too');

  const before = catalogs().length;
  writeFileSync(file, JSON.stringify({ pods: { '10.1.1.2': 'lab/b1', '10.1.2.2': 'lab/b2', '10.1.3.2': 'lab/b3' } }));
  await waitFor('a catalog after the file changed', () => catalogs().length > before, 10_000);
  assert.equal(web(catalogs().at(-1)!).pods?.['10.1.3.2:8080'], 'lab/b3');
});

test('a --pods file of another shape is refused, naming what was wrong', () => {
  assert.throws(() => parsePodNames('{"pods": []}', 'p.json'), InputError);
  assert.throws(() => parsePodNames('nope', 'p.json'), /p\.json: not JSON/);
  assert.throws(
    () => parsePodNames('{"pods": {"10.1.1.2": 7}}', 'p.json'),
    /the pod of 10\.1\.1\.2 should be a string; got 7/,
  );
  assert.deepEqual(
    parsePodNames('{"pods": {"FD00:1:1::2": "lab/b1"}}', 'p.json'),
    new Map([['fd00:1:1::2', 'lab/b1']]),
  );
});
