// A conntrack entry's id must be its own: the kernel reuses a freed entry's memory for
// the next entry with the same addresses, which a pointer-derived id would not tell apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { labUp, labDown } from '../../src/lab/lab.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { startCli } from '../helpers/cli.js';

// One UDP datagram from a fixed source port, answered by the backend.
const sendOne = `
const s = require('dgram').createSocket('udp4');
s.bind(40404, () => s.send('x', Number(process.argv[2]), process.argv[1], () => {}));
s.on('message', () => { s.close(); });
setTimeout(() => process.exit(3), 3000).unref();`;

test('entries flushed and re-created on one flow get distinct ids', async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  t.after(() => labDown(prefix));
  const lab = await labUp({ prefix });
  const dns = lab.services.find((s) => s.name === 'dns')!;
  const client = lab.clients.find((c) => !c.external)!;
  const trace = startCli(['trace', '--netns', lab.nodeNetnsPath(0), '--format', 'jsonl']);
  t.after(() => {
    if (trace.child.exitCode === null) trace.child.kill('SIGKILL');
  });
  await trace.waitFor(/tracing/);

  const rounds = 6;
  for (let i = 0; i < rounds; i++) {
    execFileSync('ip', [
      'netns',
      'exec',
      client.netns,
      process.execPath,
      '-e',
      sendOne,
      dns.clusterIP,
      String(dns.port),
    ]);
    // Ground truth: the kernel held exactly one entry for the flow, which we delete.
    const deleted = execFileSync(
      'ip',
      ['netns', 'exec', lab.nodes[0]!, 'conntrack', '-D', '-p', 'udp', '--orig-port-src', '40404'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    assert.equal(
      deleted.split('\n').filter((l) => l.includes('sport=40404')).length,
      1,
      `round ${i}: one entry for the flow`,
    );
  }
  trace.child.kill('SIGINT');
  assert.equal((await trace.exit).code, 0);
  const dnat = trace
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.type === 'dnat');
  assert.equal(dnat.length, rounds, 'one selection per re-created entry');
  assert.equal(new Set(dnat.map((e) => e.ctId)).size, rounds, `distinct ids: ${dnat.map((e) => e.ctId).join(' ')}`);
  const inserts = trace
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.type === 'insert');
  assert.deepEqual(
    inserts.map((e) => e.ctId).sort(),
    dnat.map((e) => e.ctId).sort(),
    'insert events carry the id their dnat event had',
  );
});
