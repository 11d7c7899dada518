// The connection gate: at most N connecting at once, a freed slot goes to the next waiter,
// and freeing twice frees once (a slot's timer and its holder may both free it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectGate } from '../../src/protocol/connect-gate.js';

/** Every promise callback already due has run: the gate's hand-offs are promise resolutions, no timers. */
const settled = () => new Promise((r) => setImmediate(r));

test('at most N at once; slots pass on in order; a double release frees one slot', async () => {
  const gate = new ConnectGate(2);
  const a = await gate.acquire();
  const b = await gate.acquire();
  const order: string[] = [];
  const passed = (name: string) => (release: () => void) => {
    order.push(name);
    return release;
  };
  const c = gate.acquire().then(passed('c'));
  const d = gate.acquire().then(passed('d'));
  await settled();
  assert.deepEqual(order, [], 'both slots are held');
  a();
  a();
  await settled();
  assert.deepEqual(order, ['c'], 'one release, one waiter through, even released twice');
  b();
  const [rc, rd] = await Promise.all([c, d]);
  assert.deepEqual(order, ['c', 'd']);
  rc();
  rd();
  const e = await gate.acquire();
  const f = await gate.acquire();
  let third = false;
  void gate.acquire().then(() => (third = true));
  await settled();
  assert.equal(third, false, 'still two at most after everything was freed');
  e();
  f();
});
