// The record, export and report commands as a user runs them: a separate process,
// Ctrl-C (SIGINT) ending a recording cleanly, JSON lines that say what was sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getServer } from '../../src/agent/server.js';
import type { DnatEvent, StickyEvent } from '../../src/core/event.js';
import { readTrace } from '../../src/record/trace-reader.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { FakeSource } from '../helpers/agent-fake-source.js';
import { waitFor, equals } from '../helpers/wait.js';
import { dnatEvent } from '../helpers/events.js';

const bin = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI; `done` resolves when it exits (killed after `timeoutMs`). */
function cli(args: string[], timeoutMs = 30_000) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const done = new Promise<Run>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ...out });
    });
  });
  return { child, out, done };
}

const dnat = (i: number): DnatEvent =>
  dnatEvent({
    ts: Date.UTC(2026, 10, 23, 12, 11, 5) * 1000 + 123456 + i * 1000,
    node: 'lab-node',
    proto: i % 2 ? 'udp' : 'tcp',
    client: `10.0.1.${i % 5}:${39402 + i}`,
    backend: `10.1.3.${2 + (i % 3)}:8080`,
    ctId: i.toString(16),
  });

test('record: Ctrl-C ends the recording with a clean file holding every event', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const source = new FakeSource();
  const agent = getServer(source, { node: 'lab-node' });
  const addr = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const trace = join(dir, 'c.trace');
  const rec = cli(['record', '--agent', addr, '-w', trace]);
  t.after(() => rec.child.kill('SIGKILL'));
  await waitFor('record to subscribe', () => equals(agent.info().subscribers, 1), 10_000);
  const sent = Array.from({ length: 500 }, (_, i) => dnat(i));
  source.emitEvents(sent);
  await waitFor('progress to count the events', () => / 50[01] events /.test(rec.out.stderr), 15_000);
  rec.child.kill('SIGINT');
  const run = await rec.done;
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /recorded 501 events \(0 lost\)/);
  const warnings: string[] = [];
  const back: StickyEvent[] = [];
  for await (const b of readTrace(trace, { onWarning: (w) => warnings.push(w.message) })) back.push(...b);
  assert.deepEqual(warnings, [], 'an end frame was written');
  assert.deepEqual(
    back.filter((e) => e.type === 'dnat'),
    sent,
  );
});

test('export prints docs/design.md JSON lines; report writes json, md and html', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, 'e.trace');
  const w = await TraceWriter.open(trace);
  await w.append(Array.from({ length: 30 }, (_, i) => ({ ...dnat(i), serviceName: 'lab/web:http' })));
  await w.close();

  const exp = await cli(['export', trace]).done;
  assert.equal(exp.code, 0, exp.stderr);
  const lines = exp.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 30);
  assert.equal(
    lines[0],
    '{"type":"dnat","ts":"2026-11-23T12:11:05.123456Z","node":"lab-node","proto":"tcp","client":"10.0.1.0:39402","service":"10.96.0.10:80","backend":"10.1.3.2:8080","hook":"prerouting","ctId":"0","serviceName":"lab/web:http"}',
  );
  assert.equal(JSON.parse(lines[29]!).ts, '2026-11-23T12:11:05.152456Z');

  const json = await cli(['report', trace]).done;
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.equal(report.services.length, 2, 'tcp and udp on one address are two services');
  assert.equal(
    report.services.reduce((n: number, s: { selections: number }) => n + s.selections, 0),
    30,
  );

  const md = join(dir, 'r.md');
  const mdRun = await cli(['report', trace, '--format', 'md', '-w', md]).done;
  assert.equal(mdRun.code, 0, mdRun.stderr);
  assert.match(await readFile(md, 'utf8'), /^# stickyscope report/);
  const html = join(dir, 'r.html');
  const htmlRun = await cli(['report', trace, '--format', 'html', '-w', html, '--window', '10s']).done;
  assert.equal(htmlRun.code, 0, htmlRun.stderr);
  assert.match(await readFile(html, 'utf8'), /^<!doctype html>[\s\S]*data-chart="share"/);
});

test('help texts, and wrong input refused with one clear line', { timeout: 60_000 }, async (t) => {
  for (const c of ['record', 'export', 'report']) {
    const r = await cli([c, '--help']).done;
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^Usage: stickyscope ${c} `));
  }
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const notTrace = join(dir, 'x.json');
  await writeFile(notTrace, '{"hello": 1}\n');
  const bad = await cli(['export', notTrace]).done;
  assert.equal(bad.code, 4);
  assert.match(
    bad.stderr,
    /^stickyscope export: not a stickyscope trace: .* should start with the magic bytes "STKYSCP\\n"; found "\{\\"hello\\""\n$/,
  );
  const usage = await cli(['report', '--format', 'pdf', notTrace]).done;
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--format takes the output format, one of json, md, html; got 'pdf'/);
  const noAgent = await cli(['record', '-w', join(dir, 'y')]).done;
  assert.equal(noAgent.code, 2);
  assert.match(noAgent.stderr, /record needs at least one --agent HOST:PORT/);
});
