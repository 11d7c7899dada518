// --verbose of trace, agent and doctor: the probe helper is started with --verbose, and
// the lines it writes that are neither its failure line nor a note (libbpf's) go to the
// caller. A stand-in helper says what it was given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProbe } from '../../src/probe/probe.js';

function fakeHelper(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ss-verbose-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'stickyscope-probe');
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      'echo "libbpf: given $*" >&2',
      'echo "stickyscope-probe: note: a note" >&2',
      'echo "stickyscope-probe: failed to attach: a stand-in given $*" >&2',
      'exit 1',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  return path;
}

test('with onLibbpf the helper gets --verbose and its libbpf lines reach the caller, not its failure or notes', async (t) => {
  const lines: string[] = [];
  const probe = startProbe({ node: 'n1', helperPath: fakeHelper(t), attach: 'kprobe', onLibbpf: (l) => lines.push(l) });
  await assert.rejects(probe.ready, /^EnvironmentError: failed to attach: a stand-in given --attach kprobe --verbose$/);
  await probe.stop();
  assert.deepEqual(lines, ['libbpf: given --attach kprobe --verbose']);
  assert.deepEqual(probe.notes, ['a note']);
});

test('without it the helper is not asked for them', async (t) => {
  const probe = startProbe({ node: 'n1', helperPath: fakeHelper(t), attach: 'kprobe' });
  await assert.rejects(probe.ready, /^EnvironmentError: failed to attach: a stand-in given --attach kprobe$/);
  await probe.stop();
});
