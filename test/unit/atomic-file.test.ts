// src/core/atomic-file.ts: ready files, report files, the lab's state and exports are written whole or not at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempPathFor, writeFileAtomic, writeFileAtomicSync } from '../../src/core/atomic-file.js';

function scratch(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the temporary name is hidden, beside the file, and names the writer', () => {
  assert.equal(tempPathFor('/run/x/ready'), `/run/x/.ready.${process.pid}.partial`);
});

test('written whole over what was there; nothing else left in the directory', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'ready');
  writeFileSync(file, 'old\n');
  await writeFileAtomic(file, '127.0.0.1:7390\n', 'write the ready file');
  assert.equal(readFileSync(file, 'utf8'), '127.0.0.1:7390\n');
  writeFileAtomicSync(join(dir, 'state.json'), '{}\n');
  assert.deepEqual(readdirSync(dir).sort(), ['ready', 'state.json']);
});

test('a write that fails says what it was doing and leaves the old file and no temporary', async (t) => {
  if (process.getuid?.() === 0) {
    // Root writes into a read-only directory: a missing one fails for everyone.
    const dir = scratch(t);
    await assert.rejects(writeFileAtomic(join(dir, 'gone', 'ready'), 'x', 'write the ready file'), (err: Error) => {
      assert.match(err.message, /failed to write the ready file .*gone\/ready/);
      return true;
    });
    assert.deepEqual(readdirSync(dir), []);
    return;
  }
  const dir = scratch(t);
  const sub = join(dir, 'ro');
  mkdirSync(sub);
  writeFileSync(join(sub, 'ready'), 'old\n');
  chmodSync(sub, 0o500);
  t.after(() => chmodSync(sub, 0o700));
  await assert.rejects(writeFileAtomic(join(sub, 'ready'), 'new\n', 'write the ready file'), /write the ready file/);
  assert.equal(readFileSync(join(sub, 'ready'), 'utf8'), 'old\n');
  assert.deepEqual(readdirSync(sub), ['ready']);
});

test('a rename that fails (a directory in the way) removes the temporary file', async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, 'ready'));
  writeFileSync(join(dir, 'ready', 'inside'), '');
  await assert.rejects(writeFileAtomic(join(dir, 'ready'), 'x', 'write the ready file'), /write the ready file/);
  assert.throws(() => writeFileAtomicSync(join(dir, 'ready'), 'x'));
  assert.deepEqual(readdirSync(dir), ['ready']);
});
