// Bad input gets one clear line and leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { runCli, startCli } from '../helpers/cli.js';

const netnsList = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

test('trace with an unknown netns path says so in one line and exits non-zero', async (t) => {
  if (!requireRoot(t)) return;
  const r = await runCli(['trace', '--netns', '/run/netns/does-not-exist-' + runPrefix()]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0]!, /failed to .*network namespace.*does-not-exist.*No such file/i);
});

test('trace run without root says it needs root', async (t) => {
  if (!requireRoot(t)) return;
  const r = await runCli(['trace'], { uid: 65534, gid: 65534 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /root/i);
  assert.ok(r.stderr.trim().split('\n').length <= 2, `a short message, got: ${r.stderr}`);
});

test('trace reports a probe helper killed mid-run and exits non-zero', async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  execFileSync('ip', ['netns', 'add', `${prefix}-node`]);
  t.after(() => execFileSync('ip', ['netns', 'del', `${prefix}-node`]));
  const trace = startCli(['trace', '--netns', `/run/netns/${prefix}-node`]);
  t.after(() => {
    if (trace.child.exitCode === null) trace.child.kill('SIGKILL');
  });
  await trace.waitFor(/tracing/);
  const helper = execFileSync('pgrep', ['-P', String(trace.child.pid), '-f', 'stickyscope-probe'], {
    encoding: 'utf8',
  }).trim();
  assert.match(helper, /^\d+$/, 'the helper is a child of trace');
  process.kill(Number(helper), 'SIGKILL');
  const { code } = await trace.exit;
  assert.notEqual(code, 0);
  assert.match(trace.stderr(), /probe helper exited unexpectedly.*SIGKILL/);
});

test('lab up, lab traffic, lab down work from the command line as the README shows', async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  const mine = () =>
    netnsList()
      .split('\n')
      .filter((l) => l.startsWith(prefix));
  t.after(() => runCli(['lab', 'down', '--prefix', prefix]));
  const up = await runCli(['lab', 'up', '--prefix', prefix]);
  assert.equal(up.code, 0, up.stderr);
  assert.match(netnsList(), new RegExp(`${prefix}-node`));
  const traffic = await runCli(['lab', 'traffic', '--prefix', prefix, '--duration', '2s']);
  assert.equal(traffic.code, 0, traffic.stderr);
  const status = await runCli(['lab', 'status', '--prefix', prefix]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /lab\/web/);
  const down = await runCli(['lab', 'down', '--prefix', prefix]);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(mine(), [], 'lab down removes every namespace it made');
});

test('every command answers --help', async () => {
  for (const cmd of ['trace', 'agent', 'record', 'export', 'tui', 'report', 'lab', 'demo', 'doctor']) {
    const r = await runCli([cmd, '--help']);
    assert.equal(r.code, 0, `${cmd} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: stickyscope ${cmd}`), cmd);
  }
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  const bad = await runCli(['nonsense']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command 'nonsense'/);
});
