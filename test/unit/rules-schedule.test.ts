// When the agent reads the rules: once per announced change (a line of the monitor), polled while no monitor listens,
// watermarks only while it listens in silence and something wants one; a monitor that dies is said and restarted.
// The monitor here is a shell standing in for `nft monitor` (its output is only a trigger either way).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NftMonitor } from '../../src/agent/nft-monitor.js';
import { RulesSchedule } from '../../src/agent/rules-schedule.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(ok: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(10)) if (Date.now() > end) assert.fail(`timed out: ${what}`);
}

test('a monitor line triggers a change; its silence after subscribing means no change; its death is said', async (t) => {
  let changes = 0;
  const warnings: string[] = [];
  // Quiet 600 ms (past the subscription delay), two lines at once, then it ends.
  const m = new NftMonitor({
    command: ['sh', '-c', 'sleep 0.6; echo "add rule ip nat KUBE-X"; echo "# new generation 5"; exit 3'],
    onChange: () => changes++,
    onWarning: (w) => warnings.push(w),
    restartMs: 60_000,
  });
  t.after(() => m.stop());
  m.start();
  assert.ok(!m.listenedSince(Date.now()), 'not listening before it subscribed');
  await until(() => changes === 1, 'the catch-up read once it listens');
  assert.ok(m.listenedSince(Date.now()));
  await until(() => warnings.length === 1, 'the end said');
  assert.equal(changes, 4, 'catch-up, two lines, and a read when it stopped listening');
  assert.match(warnings[0]!, /rule changes are polled: .* ended \(exit 3\); retrying in 60 s/);
  assert.ok(!m.listenedSince(Date.now()), 'no longer listening');
});

test('without a monitor the rules are polled; reads are one at a time and a change during one reads again', async (t) => {
  let reads = 0;
  let marks = 0;
  const s = new RulesSchedule({
    read: async () => {
      reads++;
      await sleep(30);
    },
    unchangedAt: () => marks++,
    wanted: () => true,
    monitor: null,
    pollMs: 100,
  });
  t.after(() => s.stop());
  await until(() => reads >= 3, 'three polls');
  assert.equal(marks, 0, 'no watermark without a monitor: the reads say it');
  s.stop();
  const before = reads;
  await sleep(250);
  assert.ok(reads <= before + 1, 'stopped');
});

test('changes coming while a read runs share one more read', async (t) => {
  let reads = 0;
  const s = new RulesSchedule({
    read: async () => {
      reads++;
      await sleep(50);
    },
    unchangedAt: () => {},
    wanted: () => false,
    monitor: null,
    pollMs: 60_000,
  });
  t.after(() => s.stop());
  s.changed();
  await until(() => reads === 1, 'the first read');
  for (let i = 0; i < 20; i++) s.changed();
  await until(() => reads === 2, 'the read after them');
  await sleep(300);
  assert.equal(reads, 2, '20 changes during a read: one more read');
});
