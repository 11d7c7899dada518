// serve's periodic report files under abuse (issue 31 items 11 and 12): a write slower than the period, and a
// directory where every write fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReportFiles } from '../../src/serve/report-files.js';
import { waitFor } from '../helpers/wait.js';

const report = async () => new TextEncoder().encode('{}');

test('a write slower than --report-every skips periods instead of queueing them; stop waits for one write only', async () => {
  let started = 0;
  let finished = 0;
  let behind = 0;
  const stop = startReportFiles({
    dir: '/nonexistent',
    everyMs: 5,
    keep: 3,
    format: 'json',
    build: report,
    onBehind: () => behind++,
    write: async () => {
      started++;
      await sleep(100);
      finished++;
    },
  });
  await sleep(450);
  const t0 = Date.now();
  await stop();
  const waited = Date.now() - t0;
  assert.equal(started - finished, 0, 'stop waited for the write under way');
  assert.ok(
    started <= 5,
    `one write at a time: ${started} started in 450 ms of 100 ms writes (a queue would start them all)`,
  );
  assert.ok(waited < 150, `stop waited ${waited} ms: one write at most, not a queue of ~90`);
  assert.ok(behind >= 1 && behind <= started, `said it was behind once per streak: ${behind} for ${started} writes`);
  const after = started;
  await sleep(50);
  assert.equal(started, after, 'nothing runs after stop');
});

test('a failing write warns once per streak, leaves no temporary file, and writing resumes when it can', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'stickyscope-report-files-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'reports');
  const errors: string[] = [];
  const written: string[] = [];
  const stop = startReportFiles({
    dir,
    everyMs: 10,
    keep: 2,
    format: 'json',
    build: report,
    onError: (err) => errors.push(err.message),
    onWritten: (p) => written.push(p),
  });
  t.after(stop);
  await sleep(150);
  assert.equal(errors.length, 1, `one warning for a streak of failed periods: ${errors.join(' | ')}`);
  assert.match(errors[0]!, /reports/, 'the warning names the path');
  mkdirSync(dir);
  await waitFor('a write after the directory came back', () => (written.length > 0 ? true : undefined), 5000);
  await stop();
  const names = readdirSync(dir);
  assert.ok(
    names.every((n) => /^stickyscope-report-\d+T\d+Z\.json$/.test(n)),
    `only whole reports: ${names.join(', ')}`,
  );
  assert.equal(errors.length, 1, 'no new warning after it recovered');
});
