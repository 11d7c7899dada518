// The CLI's side of mutual TLS, run as a user would: refusals are one clear line on
// stderr (never a stack trace), plaintext beyond loopback needs --insecure on both sides,
// and `certs` writes a CA and certificates that OpenSSL itself verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli, type CliRun } from '../helpers/cli.js';
import { makePki, startTlsAgent } from '../helpers/tls-fixture.js';

async function finished(run: CliRun) {
  const { code } = await run.exit;
  assert.doesNotMatch(run.stderr(), /^\s+at /m, `a stack trace on stderr: ${run.stderr()}`);
  return { code, stderr: run.stderr() };
}

const tlsArgs = (c: { ca: string; cert: string; key: string }) => [
  '--tls-ca',
  c.ca,
  '--tls-cert',
  c.cert,
  '--tls-key',
  c.key,
];

test('an agent will not serve plaintext beyond loopback without --insecure, nor half of the TLS flags', async () => {
  const open = await finished(startCli(['agent', '--listen', '0.0.0.0:7399']));
  assert.equal(open.code, 2);
  assert.match(
    open.stderr,
    /^stickyscope agent: refusing to serve plaintext on 0\.0\.0\.0:7399: the stream carries client addresses; give --tls-cert, --tls-key and --tls-client-ca, or --insecure$/m,
  );
  const half = await finished(startCli(['agent', '--listen', '127.0.0.1:0', '--tls-cert', 'x.crt']));
  assert.equal(half.code, 2);
  assert.match(half.stderr, /TLS needs --tls-cert, --tls-key and --tls-client-ca together; got only --tls-cert/);
  const empty = mkdtempSync(join(tmpdir(), 'stickyscope-tls-dir-'));
  try {
    const none = await finished(startCli(['agent', '--node-name', 'n1', '--tls-dir', empty]));
    assert.equal(none.code, 4);
    assert.match(
      none.stderr,
      /--tls-dir \S+ has neither n1\.crt nor tls\.crt; expected the Secret 'stickyscope certs' makes/,
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('clients refuse plaintext to an agent beyond loopback, and half of the TLS flags', async () => {
  const remote = await finished(startCli(['report', '--agent', '192.0.2.7:7390', '--duration', '1s']));
  assert.equal(remote.code, 2);
  assert.match(
    remote.stderr,
    /refusing to connect to 192\.0\.2\.7:7390 without TLS: the stream carries client addresses/,
  );
  const half = await finished(startCli(['record', '--agent', '127.0.0.1:1', '-w', '/dev/null', '--tls-ca', 'ca.crt']));
  assert.equal(half.code, 2);
  assert.match(half.stderr, /mutual TLS needs --tls-ca, --tls-cert and --tls-key together; got only --tls-ca/);
});

test('report --agent says in one line why the agent refused it', async (t) => {
  const pki = await makePki(t);
  const agent = await startTlsAgent(t, pki);
  const a = agent.address.replace(/\./g, '\\.');
  const cases: [string, string[], RegExp][] = [
    ['plaintext', [], /the agent serves TLS only; connect with --tls-ca, --tls-cert and --tls-key/],
    [
      'another CA',
      tlsArgs(pki.client('stranger')),
      /the agent refused our certificate --tls-cert \S+: it is signed by CN=another CA, not by --tls-ca/,
    ],
    [
      'a wrong name',
      [...tlsArgs(pki.client('client')), '--tls-server-name', 'n7.agent.stickyscope.local'],
      /the agent's certificate names n1\.agent\.stickyscope\.local; expected n7\.agent\.stickyscope\.local/,
    ],
  ];
  for (const [what, args, why] of cases) {
    const run = startCli(['report', '--agent', agent.address, '--duration', '1500ms', ...args]);
    const { code, stderr } = await finished(run);
    // No agent was ever reached: the run fails (exit 3) rather than printing an empty report.
    assert.equal(code, 3, `${what}: ${stderr}`);
    assert.match(stderr, /no report written: no agent was reached during the run/, what);
    assert.match(
      stderr,
      new RegExp(`^agent ${a} \\(${a}\\) down: agent ${a} unreachable: ${why.source}.*$`, 'm'),
      what,
    );
    assert.equal(agent.server.info().subscribers, 0);
  }
  const good = startCli(['report', '--agent', agent.address, '--duration', '1500ms', ...tlsArgs(pki.client('client'))]);
  await good.waitFor(new RegExp(`^agent ${a} \\(n1\\) up$`, 'm'));
  assert.equal((await finished(good)).code, 0);
});

test('record without TLS against a TLS agent says on every progress tick that no agent is up, and why', async (t) => {
  const pki = await makePki(t);
  const agent = await startTlsAgent(t, pki);
  const run = startCli(['record', '--agent', agent.address, '-w', join(pki.dir, 'x.trace'), '--duration', '3500ms']);
  const { code, stderr } = await finished(run);
  assert.equal(code, 3, stderr);
  const ticks = stderr.split('\r').filter((l) => /^\d+s {2}\d+ events/.test(l));
  assert.ok(ticks.length >= 2, `progress ticks: ${JSON.stringify(ticks)}`);
  for (const tick of ticks) assert.match(tick, /no agent up: agent \S+ unreachable: the agent serves TLS only/, tick);
});

test('record refuses an expired client certificate before connecting', async (t) => {
  const pki = await makePki(t);
  const run = startCli([
    'record',
    '--agent',
    '127.0.0.1:1',
    '-w',
    join(pki.dir, 'x.trace'),
    ...tlsArgs(pki.client('expired')),
  ]);
  const { code, stderr } = await finished(run);
  assert.equal(code, 4);
  assert.match(stderr, /^stickyscope record: --tls-cert \S+expired\.crt is not valid now: valid from .+ to .+$/m);
});

test('certs writes a CA, node and client certificates that OpenSSL verifies, keys private', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = startCli(['certs', '--out', dir, '--node', 'n1', '--node', 'ip-10-0-0-1.ec2.internal', '--days', '30']);
  const { code, stderr } = await finished(run);
  assert.equal(code, 0, stderr);
  assert.match(run.stdout(), /kubectl -n stickyscope create secret generic stickyscope-agent-tls/);
  assert.match(run.stdout(), /kubectl -n stickyscope create secret generic stickyscope-aggregator-tls/);
  assert.deepEqual(readdirSync(dir).sort(), [
    'aggregator.crt',
    'aggregator.key',
    'ca.crt',
    'ca.key',
    'client.crt',
    'client.key',
    'ip-10-0-0-1.ec2.internal.crt',
    'ip-10-0-0-1.ec2.internal.key',
    'n1.crt',
    'n1.key',
  ]);
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.key')))
    assert.equal(statSync(join(dir, f)).mode & 0o077, 0, `${f} is readable by others`);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: 'pipe' });
  const ca = join(dir, 'ca.crt');
  openssl('verify', '-purpose', 'sslserver', '-CAfile', ca, join(dir, 'n1.crt'));
  openssl('verify', '-purpose', 'sslclient', '-CAfile', ca, join(dir, 'client.crt'));
  assert.throws(() => openssl('verify', '-purpose', 'sslserver', '-CAfile', ca, join(dir, 'client.crt')));
  // serve's reports listener: a server certificate of its Service's names.
  openssl('verify', '-purpose', 'sslserver', '-CAfile', ca, join(dir, 'aggregator.crt'));
  assert.match(
    openssl('x509', '-in', join(dir, 'aggregator.crt'), '-noout', '-ext', 'subjectAltName'),
    /DNS:stickyscope-aggregator, DNS:stickyscope-aggregator\.stickyscope\.svc, DNS:localhost/,
  );
  const text = openssl('x509', '-in', join(dir, 'ip-10-0-0-1.ec2.internal.crt'), '-noout', '-text');
  assert.match(text, /DNS:ip-10-0-0-1\.ec2\.internal\.agent\.stickyscope\.local/);
  assert.match(text, /ASN1 OID: prime256v1/);
  // Run again with one more node: the same CA signs it.
  const again = await finished(startCli(['certs', '--out', dir, '--node', 'n3']));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /used the CA in/);
  openssl('verify', '-CAfile', ca, join(dir, 'n3.crt'), join(dir, 'n1.crt'));
});

test('certs replaces a world-readable key with a 0600 one, and a symlinked key file itself, not its target', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, 'elsewhere.txt');
  writeFileSync(target, 'not a key\n');
  writeFileSync(join(dir, 'n1.key'), 'old key\n', { mode: 0o644 });
  chmodSync(join(dir, 'n1.key'), 0o644);
  symlinkSync(target, join(dir, 'client.key'));
  const { code, stderr } = await finished(startCli(['certs', '--out', dir, '--node', 'n1']));
  assert.equal(code, 0, stderr);
  assert.equal(statSync(join(dir, 'n1.key')).mode & 0o777, 0o600, 'the new key is not readable by others');
  assert.match(readFileSync(join(dir, 'n1.key'), 'utf8'), /BEGIN PRIVATE KEY/);
  assert.ok(!lstatSync(join(dir, 'client.key')).isSymbolicLink(), 'the link itself was replaced');
  assert.equal(readFileSync(target, 'utf8'), 'not a key\n', 'the link target was not written through');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary file left',
  );
});

test('an agent refuses a client-only certificate at start, naming the purpose it lacks', async (t) => {
  const pki = await makePki(t);
  const { makeClientCert } = await import('../../src/certs/make-certs.js');
  // A client certificate whose CN happens to be the agent's name: it matches, but cannot serve.
  pki.put('posing', await makeClientCert(pki.ca, 'n1.agent.stickyscope.local'));
  const run = startCli([
    'agent',
    '--listen',
    '127.0.0.1:0',
    '--node-name',
    'n1',
    '--tls-cert',
    join(pki.dir, 'posing.crt'),
    '--tls-key',
    join(pki.dir, 'posing.key'),
    '--tls-client-ca',
    join(pki.dir, 'ca.crt'),
  ]);
  const { code, stderr } = await finished(run);
  assert.equal(code, 4, stderr);
  assert.match(
    stderr,
    /--tls-cert \S+posing\.crt is not for TLS servers: its extended key usage is clientAuth; expected serverAuth/,
  );
});

test('a FIFO, a device or a huge file given as a TLS file or kubeconfig is refused in one line, at once', async (t) => {
  const pki = await makePki(t);
  const fifo = join(pki.dir, 'key.fifo');
  execFileSync('mkfifo', [fifo]);
  const big = join(pki.dir, 'big.pem');
  writeFileSync(big, Buffer.alloc(5 * 1024 * 1024, 0x41));
  const tls = ['--tls-ca', join(pki.dir, 'ca.crt'), '--tls-cert', join(pki.dir, 'client.crt')];
  const cases: [string[], RegExp][] = [
    [
      ['report', '--agent', '127.0.0.1:1', '--duration', '1s', ...tls, '--tls-key', fifo],
      /--tls-key \S+key\.fifo: not a regular file \(a FIFO\)/,
    ],
    [
      ['report', '--agent', '127.0.0.1:1', '--duration', '1s', ...tls, '--tls-key', '/dev/zero'],
      /--tls-key \/dev\/zero: not a regular file \(a device\)/,
    ],
    [
      ['report', '--agent', '127.0.0.1:1', '--duration', '1s', ...tls, '--tls-key', big],
      /--tls-key \S+big\.pem: 5242880 bytes; expected at most 4194304/,
    ],
    [
      ['report', '--k8s', '--kubeconfig', fifo, '--duration', '1s'],
      /kubeconfig \S+key\.fifo: not a regular file \(a FIFO\)/,
    ],
  ];
  for (const [args, why] of cases) {
    const started = Date.now();
    const { code, stderr } = await finished(startCli(args));
    assert.equal(code, 4, `${args.join(' ')}: ${stderr}`);
    assert.match(stderr, why);
    assert.equal(stderr.trim().split('\n').length, 1, 'one line');
    assert.ok(Date.now() - started < 10_000, 'at once');
  }
});

test('certs --out that cannot be a directory, and a broken kubeconfig, each fail in one line at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-msg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'plain');
  writeFileSync(file, 'x');
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nclusters:\n  - cluster: [\n   bad: : :\n');
  const cases: [string[], RegExp][] = [
    [
      ['certs', '--out', file, '--node', 'n1'],
      /failed to create the directory \S+plain: a file of that name exists; expected a directory$/,
    ],
    [
      ['certs', '--out', join(file, 'x'), '--node', 'n1'],
      /failed to create the directory \S+plain\/x: a part of the path is not a directory \(ENOTDIR\)$/,
    ],
    // Node's own recursive mkdir never returned here.
    [
      ['certs', '--out', '/proc/stickyscope-x/y', '--node', 'n1'],
      /failed to create the directory \/proc\/stickyscope-x: \/proc does not allow creating files \(ENOENT\)$/,
    ],
    [
      ['report', '--k8s', '--kubeconfig', kubeconfig, '--duration', '1s'],
      /failed to read kubeconfig '\S+': missed comma between flow collection entries \(4:9\)$/,
    ],
  ];
  for (const [args, why] of cases) {
    const { code, stderr } = await finished(startCli(args));
    assert.equal(code, 4, `${args.join(' ')}: ${stderr}`);
    assert.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
    assert.match(stderr.trim(), why);
  }
});
