// The agent's periodic reads (affinity sets, xt_recent) under issue 31 item 2: a set of 65,000 clients listed every
// 250 ms took the agent and nft to 0.98 of a core. The reads run only when there is something to read (after flows),
// and a read that takes long spaces the next ones, so reads take at most 1/costFactor of the time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Poller } from '../../src/agent/poller.js';
import { waitFor } from '../helpers/wait.js';

test('nothing to read (no flow since the last read): no read at all, whatever the period', async (t) => {
  let runs = 0;
  let flows = false;
  const p = new Poller(10, async () => void runs++, undefined, { costFactor: 20, when: () => flows });
  p.start();
  t.after(() => p.stop());
  await sleep(200);
  assert.equal(runs, 0, 'no read while nothing came');
  flows = true;
  await waitFor('a flow to bring the reads back', () => runs > 0, 5000);
});

test('an expensive read spaces the next ones: at most 1/costFactor of the time reading', async (t) => {
  let busy = 0;
  let runs = 0;
  const p = new Poller(
    10,
    async () => {
      runs++;
      const t0 = performance.now();
      await sleep(40);
      busy += performance.now() - t0;
    },
    undefined,
    { costFactor: 20, when: () => true },
  );
  const t0 = performance.now();
  p.start();
  t.after(() => p.stop());
  await sleep(2500);
  p.stop();
  const share = busy / (performance.now() - t0);
  // 40 ms reads every 10 ms would read 80% of the time; spaced by 20x their duration, about 1/21.
  assert.ok(share < 0.08, `reading ${(100 * share).toFixed(1)}% of the time in ${runs} reads`);
  assert.ok(runs >= 2, `${runs} reads`);
});
