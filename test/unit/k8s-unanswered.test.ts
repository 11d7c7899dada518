// issue 31 item 15: `report --k8s` against an API server that accepts connections and never answers must end with a
// one-line reason, not hang until killed; an exec credential plugin that fails silently must be named in the error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrefix } from '../helpers/env.js';
import { runCli } from '../helpers/cli.js';

function kubeconfig(dir: string, server: string, user: string[]): string {
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: c',
      `  cluster: {server: "${server}", insecure-skip-tls-verify: true}`,
      'users:',
      '- name: u',
      '  user:',
      ...user,
      'contexts:',
      '- name: x',
      '  context: {cluster: c, user: u}',
      'current-context: x',
      '',
    ].join('\n'),
  );
  return path;
}

test('report --k8s against an API server that never answers ends within the start timeout, saying so', {
  timeout: 60_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix()}-k8s-silent-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const held: Socket[] = [];
  const server = createServer((s) => held.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of held) s.destroy();
    server.close();
  });
  const { port } = server.address() as { port: number };
  const config = kubeconfig(dir, `http://127.0.0.1:${port}`, ['    token: abc']);
  const started = Date.now();
  const r = await runCli(['report', '--k8s', '--kubeconfig', config, '--duration', '2s']);
  const seconds = (Date.now() - started) / 1000;
  assert.ok(held.length > 0, 'the client did connect to the silent server');
  assert.equal(r.code, 3, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, /no answer within 15 s/);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.ok(seconds < 40, `ended after ${seconds} s`);
});

test('an exec credential plugin that fails without a word is named in the error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix()}-k8s-exec-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = kubeconfig(dir, 'https://127.0.0.1:1', [
    '    exec:',
    '      apiVersion: client.authentication.k8s.io/v1beta1',
    '      command: /bin/false',
    '      args: [get-token]',
  ]);
  const r = await runCli(['report', '--k8s', '--kubeconfig', config, '--duration', '2s']);
  assert.equal(r.code, 3, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, /exec plugin '\/bin\/false get-token'/);
  assert.doesNotMatch(r.stderr, /: $/m, 'no empty reason at the end of a line');
});
