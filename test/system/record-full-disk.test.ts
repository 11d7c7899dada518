// `record` onto a disk that fills up (a 64 KiB tmpfs): one line naming the trace and
// ENOSPC, a non-zero exit, and the file readable up to the failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer } from '../../src/agent/server.js';
import type { StickyEvent } from '../../src/core/event.js';
import { readTrace, type TraceWarning } from '../../src/record/trace-reader.js';
import { dnat, FakeSource } from '../helpers/agent-fake-source.js';
import { startCli } from '../helpers/cli.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { waitFor, equals } from '../helpers/wait.js';

test('record on a full disk: exit 3, one line, the trace readable up to the failure', {
  timeout: 60_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix('full')}-`));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  t.after(() => {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const source = new FakeSource();
  const agent = getServer(source, { node: 'n1' });
  const addr = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const trace = join(dir, 'full.trace');
  const rec = startCli(['record', '--agent', addr, '-w', trace]);
  t.after(() => rec.child.kill('SIGKILL'));
  await waitFor('record to subscribe', () => equals(agent.info().subscribers, 1), 10_000);
  // About 40 bytes an event: 10,000 are several times what 64 KiB holds. The first 200
  // are written (progress counts them, with the node-up event) before the rest follow.
  const sent = Array.from({ length: 10_000 }, (_, i) => dnat(i, 'n1'));
  source.emitEvents(sent.slice(0, 200));
  await rec.waitFor(/ 201 events /);
  for (let i = 200; i < sent.length && rec.child.exitCode === null; i += 50) {
    source.emitEvents(sent.slice(i, i + 50));
    await new Promise((r) => setTimeout(r, 2));
  }
  const { code } = await rec.exit;
  const lastLine = rec.stderr().trimEnd().split('\n').at(-1);
  assert.equal(lastLine, `stickyscope record: failed to write trace ${trace}: no space left on the device (ENOSPC)`);
  assert.doesNotMatch(rec.stderr(), /^\s+at /m, 'no stack trace');
  assert.equal(code, 3);

  const warnings: TraceWarning[] = [];
  const back: StickyEvent[] = [];
  for await (const b of readTrace(trace, { onWarning: (w) => warnings.push(w) }))
    back.push(...b.filter((e) => e.type === 'dnat'));
  assert.ok(back.length >= 200, `the file holds the events written before the disk filled; read ${back.length}`);
  assert.deepEqual(back, sent.slice(0, back.length), 'what is read is what was sent, in order, up to the failure');
  t.diagnostic(`read back ${back.length} events; ${warnings.map((w) => w.message).join('; ')}`);
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0]!.kind, /truncated|interrupted/);
});
