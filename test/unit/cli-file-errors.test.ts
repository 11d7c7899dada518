// Files the user names that cannot be read or written (a directory, a missing folder,
// /proc, a file used as a folder): one line saying what, where and why, a non-zero exit,
// never a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { requireTools } from '../helpers/env.js';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { cliPath, runCli } from '../helpers/cli.js';

test('unreadable and unwritable paths give one line naming the file and the reason', {
  timeout: 120_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-files-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, 'ok.trace');
  const w = await TraceWriter.open(trace);
  await w.close();
  const plain = join(dir, 'plain.txt');
  await writeFile(plain, 'not a folder\n');
  const nope = join(dir, 'nope');
  const empty = join(dir, 'empty');
  await mkdir(empty);
  const cases: Array<{ args: string[]; line: string; code: number }> = [
    {
      args: ['export', empty],
      line: `stickyscope export: no trace files in the directory ${empty} (0 entries)`,
      code: 4,
    },
    {
      args: ['export', join(nope, 'x.trace')],
      line: `stickyscope export: failed to open trace ${nope}/x.trace: no such directory ${nope} (ENOENT)`,
      code: 4,
    },
    {
      args: ['export', join(dir, 'missing.trace')],
      line: `stickyscope export: failed to open trace ${dir}/missing.trace: no such file (ENOENT)`,
      code: 4,
    },
    {
      args: ['report', empty],
      line: `stickyscope report: no trace files in the directory ${empty} (0 entries)`,
      code: 4,
    },
    {
      args: ['report', trace, '-w', join(nope, 'x.json')],
      line: `stickyscope report: failed to write report to ${nope}/x.json: no such directory ${nope} (ENOENT)`,
      code: 4,
    },
    {
      args: ['report', trace, '-w', dir],
      line: `stickyscope report: failed to write report to ${dir}: it is a directory (EISDIR)`,
      code: 4,
    },
    {
      args: ['report', trace, '-w', '/proc/x.json'],
      line: 'stickyscope report: failed to write report to /proc/x.json: /proc does not allow creating files (ENOENT)',
      code: 4,
    },
    {
      args: ['report', trace, '-w', join(plain, 'x.json')],
      line: `stickyscope report: failed to write report to ${plain}/x.json: a part of the path is not a directory (ENOTDIR)`,
      code: 4,
    },
    {
      args: ['report', '--agent', '127.0.0.1:1', '--duration', '1h', '-w', join(nope, 'x.json')],
      line: `stickyscope report: failed to write report to ${nope}/x.json: no such directory ${nope} (ENOENT)`,
      code: 4,
    },
    {
      args: ['record', '--agent', '127.0.0.1:1', '-w', join(nope, 'x.trace')],
      line: `stickyscope record: failed to write trace ${nope}/x.trace: no such directory ${nope} (ENOENT)`,
      code: 4,
    },
    {
      args: ['record', '--agent', '127.0.0.1:1', '-w', dir],
      line: `stickyscope record: failed to write trace ${dir}: it is a directory (EISDIR)`,
      code: 4,
    },
    {
      args: ['record', '--agent', '127.0.0.1:1', '-w', '/proc/x.trace'],
      line: 'stickyscope record: failed to write trace /proc/x.trace: /proc does not allow creating files (ENOENT)',
      code: 4,
    },
    {
      args: ['lab', 'scenario', 'affinity-timeout', '--report', join(nope, 'r.json')],
      line: `stickyscope lab: failed to write the report to ${nope}/r.json: no such directory ${nope} (ENOENT)`,
      code: 4,
    },
  ];
  for (const c of cases) {
    const r = await runCli(c.args);
    assert.equal(r.stderr, c.line + '\n', c.args.join(' '));
    assert.equal(r.code, c.code, c.args.join(' '));
    assert.equal(r.stdout, '', c.args.join(' '));
  }
  assert.equal(existsSync(nope), false, 'no folder was made on the way');
});

test('tui --replay of a directory says so in one line, before taking over the screen', (t) => {
  // The TUI needs a terminal: util-linux's script(1) gives it one.
  if (!requireTools(t, 'script')) return;
  const r = spawnSync(
    'script',
    ['-qec', `'${process.execPath}' '${cliPath}' tui --replay /tmp; echo "exit $?"`, '/dev/null'],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  assert.equal(
    r.stdout.replace(/\r/g, ''),
    'stickyscope tui: failed to open trace /tmp: it is a directory (EISDIR)\nexit 4\n',
  );
});
