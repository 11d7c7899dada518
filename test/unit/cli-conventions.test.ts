// Conventions SREs know from kubectl and hubble: --version, a "did you mean" for a mistyped command or flag, and
// help examples that use the agent's real default port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runCli } from '../helpers/cli.js';

const COMMANDS = ['trace', 'agent', 'record', 'export', 'tui', 'report', 'certs', 'serve', 'lab', 'demo', 'doctor'];

test('--version and version print the package version and exit 0', async () => {
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  for (const arg of ['--version', 'version']) {
    const r = await runCli([arg]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `stickyscope ${pkg.version}\n`);
  }
});

test('a mistyped flag or command gets the nearest ones it could mean', async () => {
  const flag = await runCli(['report', '--agnet', '127.0.0.1:7390']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^stickyscope report: unknown option '--agnet'; did you mean '--agent'\?\n/);
  const far = await runCli(['report', '--zzzzzzzz']);
  assert.equal(far.code, 2);
  assert.match(far.stderr, /^stickyscope report: unknown option '--zzzzzzzz'\n/, 'no guess when nothing is near');
  const cmd = await runCli(['reprot']);
  assert.equal(cmd.code, 2);
  assert.match(cmd.stderr, /unknown command 'reprot'; did you mean 'report'\?/);
});

test("every command's help uses the agent's default port 7390 in its examples", async () => {
  const agent = await runCli(['agent', '--help']);
  assert.match(agent.stdout, /default 127\.0\.0\.1:7390/);
  for (const c of COMMANDS) {
    const r = await runCli([c, '--help']);
    assert.equal(r.code, 0, `${c} --help: ${r.stderr}`);
    const ports = [...r.stdout.matchAll(/(?:127\.0\.0\.1|node\d|localhost):(\d{4,5})\b/g)].map((m) => m[1]);
    // 7391: serve's HTTP; 7392: serve's reports over mutual TLS (deploy/aggregator-service.yaml).
    for (const p of ports) assert.ok(['7390', '7391', '7392'].includes(p!), `${c} --help shows port ${p}`);
  }
});

test('-o takes the format as in kubectl and hubble; -o FILE is refused with a hint and writes nothing', async (t) => {
  const { mkdtemp, readdir, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { TraceWriter } = await import('../../src/record/trace-writer.js');
  const { dnat } = await import('../helpers/agent-fake-source.js');
  const dir = await mkdtemp(join(tmpdir(), 'stickyscope-o-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, 'capture.trace');
  const w = await TraceWriter.open(trace, { nodes: ['n'] });
  await w.append([dnat(1, 'n'), dnat(2, 'n')]);
  await w.close();
  const inDir = async (args: string[]) => {
    const { spawn } = await import('node:child_process');
    const { cliPath } = await import('../helpers/cli.js');
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    return { code, stdout: out, stderr: err };
  };
  // The old spelling: before, this wrote a file named 'report.json' (or 'json') silently and printed nothing.
  for (const [args, hint] of [
    [
      ['report', trace, '-o', 'report.json'],
      /-o takes the output format, one of json, md, html; got 'report\.json'; to write to a file give -w FILE \(e\.g\. -w report\.json\)/,
    ],
    [['export', trace, '-o', 'out.jsonl'], /-o takes the output format, one of jsonl, parquet; got 'out\.jsonl'/],
    [
      ['record', '--agent', '127.0.0.1:1', '-o', 'x.trace'],
      /record writes a trace file: give it with -w FILE \(e\.g\. -w x\.trace\)/,
    ],
  ] as const) {
    const r = await inDir([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, hint);
  }
  assert.deepEqual(await readdir(dir), ['capture.trace'], 'nothing written');
  const md = await inDir(['report', trace, '-o', 'md']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /^# stickyscope report/);
  const written = await inDir(['report', trace, '-o', 'json', '-w', 'r.json']);
  assert.equal(written.code, 0, written.stderr);
  assert.equal(written.stdout, '');
  assert.ok((await readdir(dir)).includes('r.json'));
});
