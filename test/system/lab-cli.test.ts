// `stickyscope lab` as a user runs it: Ctrl-C during set-up, and up/status/endpoints/down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { netnsNames } from '../helpers/lab-fixture.js';
import { labDown } from '../../src/lab/lab.js';
import { stateDirOf } from '../../src/lab/state.js';

const cli = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));
const run = promisify(execFile);

test('Ctrl-C during lab up leaves no namespace, process or state behind', async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  t.after(() => labDown(prefix));
  const child = spawn(process.execPath, [cli, 'lab', 'up', '--prefix', prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  // Interrupt as soon as the first namespace exists: mid-way through set-up.
  const end = Date.now() + 10_000;
  while (!existsSync(`/run/netns/${prefix}-node`) && Date.now() < end) await new Promise((r) => setImmediate(r));
  assert.ok(existsSync(`/run/netns/${prefix}-node`), 'lab up never created its node namespace');
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, `expected the interrupted exit code; stderr: ${stderr}`);
  assert.match(stderr, /interrupted/);
  assert.deepEqual(
    netnsNames().filter((n) => n.startsWith(`${prefix}-`)),
    [],
  );
  assert.equal(existsSync(stateDirOf(prefix)), false);
});

test('lab up, status, endpoints and down from the command line', async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  t.after(() => labDown(prefix));
  const up = await run(process.execPath, [cli, 'lab', 'up', '--prefix', prefix, '--shape', 'legacy']);
  assert.match(up.stdout, /lab\/sticky:http/);
  const status = await run(process.execPath, [cli, 'lab', 'status', '--prefix', prefix]);
  assert.equal(status.stdout.match(/ alive/g)?.length, 3, status.stdout);
  const changed = await run(process.execPath, [
    cli,
    'lab',
    'endpoints',
    '--prefix',
    prefix,
    'lab/web',
    'remove',
    '10.1.2.2:8080',
  ]);
  assert.equal(changed.stdout.trim(), 'lab/web:http: 10.1.1.2:8080, 10.1.3.2:8080');
  const dump = await run('ip', ['netns', 'exec', `${prefix}-node`, 'iptables-save', '-t', 'nat']);
  assert.match(dump.stdout, /^:KUBE-XLB-[A-Z2-7]{16} /m, 'the legacy shape has XLB chains');
  assert.equal(dump.stdout.split('\n').filter((l) => l.includes('"lab/web:http"') && l.includes('DNAT')).length, 2);
  await assert.rejects(run(process.execPath, [cli, 'lab', 'up', '--prefix', prefix]), /exists already/);
  await run(process.execPath, [cli, 'lab', 'down', '--prefix', prefix]);
  await run(process.execPath, [cli, 'lab', 'down', '--prefix', prefix]);
  assert.deepEqual(
    netnsNames().filter((n) => n.startsWith(`${prefix}-`)),
    [],
  );
});
