// The same recording read twice counts twice: given twice, as a copy or a symlink in a directory, or a rotated
// segment named beside its first one. Each is read once, with a warning. A directory's trace of a newer format is
// skipped with a warning like its other unreadable files, not the end of the report or the export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePreamble } from '../../src/record/frame.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { dnat } from '../helpers/agent-fake-source.js';
import { runCli } from '../helpers/cli.js';

const EVENTS = 100;

async function scratch(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-dups-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function write(path: string, rotateBytes?: number): Promise<void> {
  const w = await TraceWriter.open(path, { nodes: ['n'], rotateBytes });
  for (let i = 0; i < EVENTS; i++) await w.append([dnat(i, 'n', { ts: 1_795_435_865_000_000 + i * 1000 })]);
  await w.close();
}

const selections = (stdout: string) =>
  (JSON.parse(stdout) as { services: { selections: number }[] }).services.reduce((n, s) => n + s.selections, 0);

test('a recording given twice, copied or linked into a directory is read once, with a warning', async (t) => {
  const dir = await scratch(t);
  const a = join(dir, 'a.trace');
  await write(a);
  const twice = await runCli(['report', a, a]);
  assert.equal(twice.code, 0, twice.stderr);
  assert.equal(selections(twice.stdout), EVENTS);
  assert.match(
    twice.stderr,
    /a\.trace: the same recording as \S+a\.trace \(read once, or it would count twice\); skipped/,
  );

  const d = join(dir, 'd');
  await mkdir(d);
  await copyFile(a, join(d, 'copy.trace'));
  await symlink(a, join(d, 'link.trace'));
  const inDir = await runCli(['report', a, d]);
  assert.equal(inDir.code, 0, inDir.stderr);
  assert.equal(selections(inDir.stdout), EVENTS, 'a copy and a symlink add nothing');
  assert.equal((inDir.stderr.match(/the same recording as/g) ?? []).length, 2, inDir.stderr);
  const exported = await runCli(['export', d]);
  assert.equal(
    exported.stdout
      .trim()
      .split('\n')
      .filter((l) => l.includes('"type":"dnat"')).length,
    EVENTS,
  );
});

test('a rotated segment named beside the first is read once, through the first', async (t) => {
  const dir = await scratch(t);
  const base = join(dir, 'r.trace');
  await write(base, 2048);
  const names = (await readdir(dir)).sort();
  assert.ok(names.length >= 3, `rotated into ${names.join(', ')}`);
  const r = await runCli(['report', ...names.map((n) => join(dir, n))]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(selections(r.stdout), EVENTS);
  assert.match(
    r.stderr,
    /r\.trace\.1: segment 1 of a recording whose segment 0 is read, which goes on into it; skipped/,
  );
});

test('a trace of a newer format in a directory is skipped with a warning; named alone it is refused', async (t) => {
  const dir = await scratch(t);
  await write(join(dir, 'a.trace'));
  const newer = join(dir, 'b.trace');
  await writeFile(newer, Buffer.concat([encodePreamble(9), Buffer.alloc(64)]));
  for (const command of ['report', 'export']) {
    const r = await runCli([command, dir]);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assert.match(r.stderr, /b\.trace: trace format version 9 is newer than this stickyscope reads \(1\); skipped/);
  }
  const alone = await runCli(['report', newer]);
  assert.equal(alone.code, 4);
  assert.match(alone.stderr, /trace format version 9 is newer than this stickyscope reads \(1\); upgrade stickyscope/);
});
