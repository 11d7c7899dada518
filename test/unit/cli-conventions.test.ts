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
    for (const p of ports) assert.ok(p === '7390' || p === '7391', `${c} --help shows port ${p}`);
  }
});
