// stdout as a pipe, a slowly read pipe, a full device and a closed pipe: every byte a
// command writes arrives (compared with the same output written with -o or to a file),
// or the command fails with one line saying why.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { DnatEvent } from '../../src/core/event.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { cliPath } from '../helpers/cli.js';

const EVENTS = 20_000;
const MiB = 1024 * 1024;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the CLI with the given stdout; collects it when it is a pipe. */
function run(args: string[], stdout: 'pipe' | number | Writable = 'pipe'): Promise<Run> {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', stdout, 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => chunks.push(d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks), stderr })),
  );
}

/** A reader that waits, then takes the pipe a chunk at a time with pauses between. */
const SLOW_READER = `
const h = require('node:crypto').createHash('sha256');
let n = 0;
process.stdin.pause();
setTimeout(() => process.stdin.resume(), 400);
process.stdin.on('data', (c) => {
  n += c.length;
  h.update(c);
  process.stdin.pause();
  setTimeout(() => process.stdin.resume(), 5);
});
process.stdin.on('end', () => process.stdout.write(JSON.stringify({ n, sha: h.digest('hex') })));
`;

/** Runs the CLI into a slow reader process through a real pipe; resolves to its exit and what the reader saw. */
async function runIntoSlowReader(
  args: string[],
): Promise<{ code: number | null; stderr: string; n: number; sha: string }> {
  const reader = spawn(process.execPath, ['-e', SLOW_READER], { stdio: ['pipe', 'pipe', 'inherit'] });
  let seen = '';
  reader.stdout!.on('data', (d) => (seen += d));
  const readerDone = new Promise<void>((resolve) => reader.on('close', () => resolve()));
  const cli = run(args, reader.stdin!);
  // The reader must see the end of input once the CLI is gone: drop this process's end.
  reader.stdin!.destroy();
  const r = await cli;
  await readerDone;
  return { code: r.code, stderr: r.stderr, ...(JSON.parse(seen) as { n: number; sha: string }) };
}

const sha = async (path: string) =>
  (await import('node:crypto'))
    .createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/** Events spread over 160 services and many clients, so json, html and export each come to more than 1 MiB. */
async function bigTrace(t: TestContext): Promise<{ dir: string; trace: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-pipe-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, 'big.trace');
  const w = await TraceWriter.open(trace);
  const events: DnatEvent[] = Array.from({ length: EVENTS }, (_, i) => ({
    type: 'dnat',
    ts: 1_795_435_865_000_000 + i * 1000,
    node: 'n1',
    proto: 'tcp',
    client: `10.0.${(i >> 8) & 255}.${i & 255}:${30000 + (i % 30000)}`,
    service: `10.96.${(i >> 6) & 3}.${i % 40}:80`,
    backend: `10.1.3.${2 + (i % 5)}:8080`,
    hook: 'prerouting',
    ctId: i.toString(16),
  }));
  for (let i = 0; i < EVENTS; i += 1000) await w.append(events.slice(i, i + 1000));
  await w.close();
  return { dir, trace };
}

test('report (json, html) and export through a pipe give every byte a file gets', { timeout: 120_000 }, async (t) => {
  const { dir, trace } = await bigTrace(t);
  for (const format of ['json', 'html']) {
    // The reference: stdout on a plain file. The report states its command line, so the same command.
    const file = join(dir, `r.${format}`);
    const fd = openSync(file, 'w');
    const viaFile = await run(['report', trace, '--format', format], fd);
    closeSync(fd);
    assert.equal(viaFile.code, 0, viaFile.stderr);
    const expected = await readFile(file);
    // -w writes the same report, but for its command line.
    const written = join(dir, `w.${format}`);
    const viaW = await run(['report', trace, '--format', format, '-w', written]);
    assert.equal(viaW.code, 0, viaW.stderr);
    assert.equal((await readFile(written, 'utf8')).replace(` -w ${written}`, ''), expected.toString(), `-w ${format}`);
    assert.ok(
      expected.length > MiB,
      `the ${format} report is ${expected.length} bytes; the test needs more than 1 MiB`,
    );

    const piped = await run(['report', trace, '--format', format]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.length, expected.length, `${format} report through a pipe`);
    assert.ok(piped.stdout.equals(expected));

    const slow = await runIntoSlowReader(['report', trace, '--format', format]);
    assert.equal(slow.code, 0, slow.stderr);
    assert.deepEqual({ n: slow.n, sha: slow.sha }, { n: expected.length, sha: await sha(file) }, format);
  }

  // Export's reference: its stdout as a plain file, and one line per event written.
  const file = join(dir, 'e.jsonl');
  const fd = openSync(file, 'w');
  const viaFile = await run(['export', trace], fd);
  closeSync(fd);
  assert.equal(viaFile.code, 0, viaFile.stderr);
  const expected = await readFile(file);
  assert.ok(expected.length > MiB);
  assert.equal(expected.toString().trimEnd().split('\n').length, EVENTS);
  const piped = await run(['export', trace]);
  assert.equal(piped.code, 0, piped.stderr);
  assert.ok(piped.stdout.equals(expected), `export through a pipe: ${piped.stdout.length} of ${expected.length} bytes`);
  const slow = await runIntoSlowReader(['export', trace]);
  assert.equal(slow.code, 0, slow.stderr);
  assert.deepEqual({ n: slow.n, sha: slow.sha }, { n: expected.length, sha: await sha(file) });
});

test('stdout on a full device: exit 3 and one line naming stdout and ENOSPC', { timeout: 60_000 }, async (t) => {
  const { trace } = await bigTrace(t);
  for (const args of [
    ['report', trace],
    ['export', trace],
    ['export', trace, '--format', 'parquet'],
    ['--help'],
    ['report', '--help'],
    ['lab', 'scenario', '--list'],
  ]) {
    const fd = openSync('/dev/full', 'w');
    const r = await run(args, fd);
    closeSync(fd);
    assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^stickyscope( \w+)?: failed to write to stdout: no space left on the device \(ENOSPC\)\n$/,
      args.join(' '),
    );
  }
  // A command that wrote nothing to stdout has nothing to blame on it.
  const fd = openSync('/dev/full', 'w');
  const r = await run(['lab', 'status', '--prefix', 'nosuchlab'], fd);
  closeSync(fd);
  assert.equal(r.code, 2, r.stderr);
  assert.doesNotMatch(r.stderr, /stdout/);
});

test('a reader that closes the pipe early (| head -1) ends the command quietly with 0', {
  timeout: 60_000,
}, async (t) => {
  const { trace } = await bigTrace(t);
  for (const args of [
    ['export', trace],
    ['export', trace, '--format', 'parquet'],
    ['report', trace],
    ['report', trace, '--format', 'html'],
  ]) {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(stderr, '', args.join(' '));
    assert.equal(code, 0, args.join(' '));
  }
});
