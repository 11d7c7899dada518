// `stickyscope lab` as a user runs it: Ctrl-C during set-up, and up/status/endpoints/down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { netnsNames } from '../helpers/lab-fixture.js';
import { labDown } from '../../src/lab/lab.js';
import { stateDirOf } from '../../src/lab/state.js';
import { NotYet, waitFor } from '../helpers/wait.js';

const cli = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));
const run = promisify(execFile);

test('Ctrl-C during lab up leaves no namespace, process or state behind', async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  t.after(() => labDown(prefix));
  const child = spawn(process.execPath, [cli, 'lab', 'up', '--prefix', prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  // Interrupt as soon as the first namespace exists: mid-way through set-up.
  await waitFor(
    'lab up to create its node namespace',
    () =>
      existsSync(`/run/netns/${prefix}-node`) || new NotYet(`lab up's stderr: ${stderr}`, `/run/netns/${prefix}-node`),
    10_000,
    1,
  );
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, `expected the interrupted exit code; stderr: ${stderr}`);
  assert.match(stderr, /interrupted/);
  assert.deepEqual(
    netnsNames().filter((n) => n.startsWith(`${prefix}-`)),
    [],
  );
  assert.equal(existsSync(stateDirOf(prefix)), false);
});

test('lab up, status, endpoints and down from the command line', async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  t.after(() => labDown(prefix));
  const up = await run(process.execPath, [cli, 'lab', 'up', '--prefix', prefix, '--shape', 'legacy']);
  assert.match(up.stdout, /lab\/sticky:http/);
  const status = await run(process.execPath, [cli, 'lab', 'status', '--prefix', prefix]);
  assert.equal(status.stdout.match(/ alive/g)?.length, 3, status.stdout);
  const changed = await run(process.execPath, [
    cli,
    'lab',
    'endpoints',
    '--prefix',
    prefix,
    'lab/web',
    'remove',
    '10.1.2.2:8080',
  ]);
  assert.equal(changed.stdout.trim(), 'lab/web:http: 10.1.1.2:8080, 10.1.3.2:8080');
  const dump = await run('ip', ['netns', 'exec', `${prefix}-node`, 'iptables-save', '-t', 'nat']);
  assert.match(dump.stdout, /^:KUBE-XLB-[A-Z2-7]{16} /m, 'the legacy shape has XLB chains');
  assert.equal(dump.stdout.split('\n').filter((l) => l.includes('"lab/web:http"') && l.includes('DNAT')).length, 2);
  await assert.rejects(run(process.execPath, [cli, 'lab', 'up', '--prefix', prefix]), /exists already/);
  await run(process.execPath, [cli, 'lab', 'down', '--prefix', prefix]);
  await run(process.execPath, [cli, 'lab', 'down', '--prefix', prefix]);
  assert.deepEqual(
    netnsNames().filter((n) => n.startsWith(`${prefix}-`)),
    [],
  );
});

test('lab up --ip-families ipv4,ipv6: both families in up, status, endpoints and traffic; down removes the ip6 rules', {
  timeout: 60_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  for (const [args, message] of [
    [['--ip-families', 'ipv6'], /--ip-families expects ipv4 or ipv4,ipv6; got 'ipv6'/],
    [['--ip-families', 'ipv4,ipv6', '--config', '/nonexistent.json'], /with --config FILE set ipFamilies in the file/],
  ] as const) {
    const r = await run(process.execPath, [cli, 'lab', 'up', '--prefix', runPrefix(), ...args]).catch((e) => e);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const prefix = runPrefix();
  t.after(() => labDown(prefix));
  const up = await run(process.execPath, [
    cli,
    'lab',
    'up',
    '--prefix',
    prefix,
    '--ip-families',
    'ipv4,ipv6',
    '--proxy-mode',
    'nftables',
  ]);
  assert.match(up.stdout, /clients c1=10\.0\.1\.2,fd00:0:1::2 .*backends b1=10\.1\.1\.2,fd00:1:1::2 /);
  assert.match(up.stdout, /lab\/dual:http +10\.96\.0\.14:80\/tcp \[fd00:96::14\]:80\/tcp +affinity ClientIP/);
  assert.match(up.stdout, /lab\/web6:http +\[fd00:96::15\]:80\/tcp nodePort 30086/);
  const status = await run(process.execPath, [cli, 'lab', 'status', '--prefix', prefix]);
  assert.match(status.stdout, /nftables mode, kube-proxy 1\.35 shape; IPv4 and IPv6;/);
  assert.match(
    status.stdout,
    /endpoint-[A-Z2-7]{8}-lab\/dual\/tcp\/http__fd00\.1\.2\.\.2\/8080 +\[fd00:1:2::2\]:8080 +b2/,
  );
  const changed = await run(process.execPath, [
    cli,
    'lab',
    'endpoints',
    '--prefix',
    prefix,
    'lab/web6',
    'remove',
    '[fd00:1:2::2]:8080',
  ]);
  assert.equal(changed.stdout.trim(), 'lab/web6:http: [fd00:1:1::2]:8080, [fd00:1:3::2]:8080');
  // The kernel's table now maps web6's cluster IP to the two endpoints left.
  const table = await run('ip', ['netns', 'exec', `${prefix}-node`, 'nft', 'list', 'table', 'ip6', 'kube-proxy']);
  assert.doesNotMatch(table.stdout, /web6\/tcp\/http__fd00\.1\.2\.\.2/);
  assert.match(table.stdout, /web6\/tcp\/http__fd00\.1\.3\.\.2/);
  const traffic = await run(process.execPath, [
    cli,
    'lab',
    'traffic',
    '--prefix',
    prefix,
    '--duration',
    '1s',
    '--clients',
    'c1',
  ]);
  for (const line of ['lab/dual:http IPv6', 'lab/dual:http', 'lab/dual-dns:dns IPv6', 'lab/web6:http IPv6'])
    assert.match(traffic.stdout, new RegExp(`^${line}: \\d+ requests, 0 failed$`, 'm'), traffic.stdout);
  const web6 = /^lab\/web6:http IPv6: .*\n((?: {2}.*\n?)*)/m.exec(traffic.stdout)?.[1] ?? '';
  assert.match(web6, /answers/);
  assert.doesNotMatch(web6, /\bb2\b/, 'the removed IPv6 endpoint answers no more');
  await run(process.execPath, [cli, 'lab', 'down', '--prefix', prefix]);
  assert.deepEqual(
    netnsNames().filter((n) => n.startsWith(`${prefix}-`)),
    [],
  );
});
