// Durations given on the command line: past setTimeout's 2^31-1 ms (about 596 h) they
// still wait (record and report used to stop at once), and 0, huge or malformed ones are
// refused with a usage error.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import { parseDuration } from '../../src/cli/command.js';
import { UsageError } from '../../src/core/errors.js';
import { longTimeout } from '../../src/core/long-timer.js';
import { readTrace } from '../../src/record/trace-reader.js';
import { dnat, FakeSource, sleep } from '../helpers/agent-fake-source.js';
import { runCli, startCli } from '../helpers/cli.js';
import { waitFor, equals } from '../helpers/wait.js';

const HOUR = 3_600_000;

test('parseDuration takes Go-style compound durations, as kubectl does', () => {
  assert.equal(parseDuration('1h30m', '--duration'), 1.5 * HOUR);
  assert.equal(parseDuration('2m0.5s', '--duration'), 120_500);
  assert.equal(parseDuration('1h0m10s250ms', '--duration'), HOUR + 10_250);
  assert.equal(parseDuration('1.5h', '--duration'), 1.5 * HOUR);
  assert.equal(parseDuration('90', '--duration'), 90_000);
  // Units out of order or repeated, gaps, and unknown units are refused rather than guessed.
  for (const bad of ['30m1h', '1m1m', '1h 30m', '1h30', 'h', '1h30x', '1ms1s'])
    assert.throws(() => parseDuration(bad, '--duration'), UsageError, `'${bad}'`);
});

test('parseDuration takes 1 ms to a year and refuses the rest', () => {
  assert.equal(parseDuration('600h', '--duration'), 600 * HOUR);
  assert.equal(parseDuration('8760h', '--duration'), 8760 * HOUR);
  assert.equal(parseDuration('1ms', '--duration'), 1);
  for (const bad of [
    '0',
    '0s',
    '0.0001ms',
    '8761h',
    '1e30s',
    '9'.repeat(400),
    '-5s',
    'NaN',
    'Infinity',
    '',
    '5 s',
    '1d',
  ])
    assert.throws(() => parseDuration(bad, '--duration'), UsageError, `'${bad}'`);
});

test('longTimeout fires once, at the time asked, however far away', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let fired = 0;
    const ms = 1000 * HOUR; // 1.7 times setTimeout's limit
    longTimeout(() => fired++, ms);
    mock.timers.tick(2 ** 31 - 1);
    assert.equal(fired, 0);
    mock.timers.tick(ms - 2 ** 31);
    assert.equal(fired, 0, 'not a millisecond early');
    mock.timers.tick(1);
    assert.equal(fired, 1);
    mock.timers.tick(10 * ms);
    assert.equal(fired, 1);
    const cancel = longTimeout(() => fired++, ms);
    mock.timers.tick(ms - 1);
    cancel();
    mock.timers.tick(ms);
    assert.equal(fired, 1, 'cancelled');
  } finally {
    mock.timers.reset();
  }
});

test('record and report --duration 600h keep listening until Ctrl-C', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-dur-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const source = new FakeSource();
  const agent = getServer(source, { node: 'n1' });
  const addr = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const trace = join(dir, 'long.trace');
  const rec = startCli(['record', '--agent', addr, '-w', trace, '--duration', '600h']);
  const rep = startCli(['report', '--agent', addr, '--duration', '600h']);
  t.after(() => {
    rec.child.kill('SIGKILL');
    rep.child.kill('SIGKILL');
  });
  await waitFor('record and report to subscribe', () => equals(agent.info().subscribers, 2), 10_000);
  await sleep(2000);
  const sent = Array.from({ length: 10 }, (_, i) => dnat(i, 'n1'));
  source.emitEvents(sent);
  await rec.waitFor(/ 1[01] events /);
  assert.equal(rec.child.exitCode, null, `record ended early: ${rec.stderr()}`);
  assert.equal(rep.child.exitCode, null, `report ended early: ${rep.stderr()}`);
  rec.child.kill('SIGINT');
  rep.child.kill('SIGINT');
  const [r1, r2] = await Promise.all([rec.exit, rep.exit]);
  assert.equal(r1.code, 0, rec.stderr());
  assert.equal(r2.code, 0, rep.stderr());
  for (const out of [rec.stderr(), rep.stderr()]) assert.doesNotMatch(out, /TimeoutOverflowWarning/);
  const back = [];
  for await (const b of readTrace(trace)) back.push(...b.filter((e) => e.type === 'dnat'));
  assert.deepEqual(back, sent);
  const report = JSON.parse(rep.stdout()) as { services: Array<{ selections: number }> };
  assert.equal(
    report.services.reduce((n, s) => n + s.selections, 0),
    sent.length,
  );
});

test('--duration 0, 1e30s and 9000h are usage errors on every command that takes one', {
  timeout: 60_000,
}, async () => {
  const commands = [
    ['record', '--agent', '127.0.0.1:1', '-w', '/nonexistent/x', '--duration'],
    ['report', '--agent', '127.0.0.1:1', '--duration'],
    ['report', '/nonexistent/x', '--window'],
    ['lab', 'traffic', '--duration'],
    ['lab', 'scenario', 'affinity-timeout', '--duration'],
    ['tui', '--agent', '127.0.0.1:1', '--window'],
  ];
  for (const args of commands)
    for (const d of ['0', '1e30s', '9000h']) {
      const r = await runCli([...args, d]);
      assert.equal(r.code, 2, `${args.join(' ')} ${d}: ${r.stderr}`);
      assert.match(r.stderr, /expects a duration/, `${args.join(' ')} ${d}`);
    }
});
