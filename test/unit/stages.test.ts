// The stage runner of the agent and serve (src/core/stages.ts): started in order, stopped
// last first in one loop, at the end and when a later start fails; batch handlers attached
// only while their stage runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { StickyEvent } from '../../src/core/event.js';
import { startStages, type Stage } from '../../src/core/stages.js';

function recorded(log: string[], name: string, extra: Partial<Stage> = {}): Stage {
  return {
    name,
    start: () => void log.push(`start ${name}`),
    stop: () => void log.push(`stop ${name}`),
    ...extra,
  };
}

const lost = (ts: number): StickyEvent[] => [{ type: 'lost', ts, node: 'n1', count: 1 }];

test('stages start in order and stop last first, once however often stop is called', async () => {
  const log: string[] = [];
  const running = await startStages([recorded(log, 'a'), recorded(log, 'b'), recorded(log, 'c')]);
  await Promise.all([running.stop(), running.stop()]);
  await running.stop();
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
});

test('a later start that fails stops those started, last first, and its own error is thrown', async () => {
  const log: string[] = [];
  const boom = new RangeError('failed to listen on 127.0.0.1:1: EACCES');
  const failing = recorded(log, 'c', {
    start() {
      throw boom;
    },
  });
  await assert.rejects(
    startStages([recorded(log, 'a'), recorded(log, 'b'), failing, recorded(log, 'd')]),
    (err) => err === boom,
  );
  assert.deepEqual(log, ['start a', 'start b', 'stop b', 'stop a']);
});

test('a stop that fails does not keep the others from stopping; its error is thrown after, named', async () => {
  const log: string[] = [];
  const bad = recorded(log, 'b', {
    stop() {
      throw new Error('EBUSY');
    },
  });
  const running = await startStages([recorded(log, 'a'), bad, recorded(log, 'c')]);
  await assert.rejects(running.stop(), /^Error: failed to stop b: EBUSY$/);
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop c', 'stop a']);
});

test('a failed undo after a failed start is added to the start error, which keeps its type', async () => {
  const log: string[] = [];
  const stages = [
    recorded(log, 'a', {
      stop() {
        throw new Error('EIO');
      },
    }),
    recorded(log, 'b', {
      start() {
        throw new TypeError('no such file');
      },
    }),
  ];
  await assert.rejects(
    startStages(stages),
    (err) => err instanceof TypeError && /^no such file; then failed to stop a: EIO$/.test(err.message),
  );
});

test('a stage hears the stream only while it runs', async () => {
  const stream = new EventEmitter();
  const heard: number[] = [];
  const running = await startStages(
    [{ name: 'listener', start() {}, onEvents: (events) => heard.push(events[0]!.ts) }],
    { stream },
  );
  stream.emit('events', lost(1));
  await running.stop();
  stream.emit('events', lost(2));
  assert.deepEqual(heard, [1]);
  assert.equal(stream.listenerCount('events'), 0);
});

test('a signal fired while starting starts nothing more and stops what started', async () => {
  const log: string[] = [];
  const stop = new AbortController();
  const aborting = recorded(log, 'b', {
    start() {
      log.push('start b');
      stop.abort();
    },
  });
  await startStages([recorded(log, 'a'), aborting, recorded(log, 'c')], { signal: stop.signal });
  assert.deepEqual(log, ['start a', 'start b', 'stop b', 'stop a']);
});
