// Who may read `serve`'s reports (issue 31 §3): a report names every client address, which
// the agents' stream gives only over mutual TLS. A plain listener beyond loopback serves
// /metrics, /healthz and /readyz but answers /report.* 403; --report-listen serves them over
// TLS to a client certificate of --report-tls-client-ca only (no certificate, or one of
// another CA, is refused in the handshake).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { getServer } from '../../src/agent/server.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { runCli } from '../helpers/cli.js';
import { sample, startServe } from '../helpers/serve.js';
import { makePki, type Pki } from '../helpers/tls-fixture.js';
import { equals, waitFor } from '../helpers/wait.js';

/** GET over TLS trusting the pki's CA, with the client certificate NAME (or none). */
function tlsGet(
  pki: Pki,
  address: string,
  path: string,
  client?: string,
): Promise<{ status: number; text: string; serial: string }> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  const c = client ? pki.client(client) : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path,
        ca: readFileSync(`${pki.dir}/ca.crt`),
        ...(c ? { cert: readFileSync(c.cert), key: readFileSync(c.key) } : {}),
        servername: 'n1.agent.stickyscope.local',
        agent: false,
      },
      (res) => {
        const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode!, text, serial }));
      },
    );
    req.on('error', reject).end();
  });
}

test('serve on 0.0.0.0 without --report-listen: /report.* is 403, /metrics and health answer', async (t) => {
  const source = new FakeSource();
  const agent = getServer(source, { node: 'node-a' });
  const address = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const serve = await startServe(t, ['--agent', address, '--listen', '0.0.0.0:0']);
  await waitFor('serve to subscribe', () => equals(agent.info().subscribers, 1), 10_000);
  source.emitEvents([dnat(1, 'node-a', { ts: Date.now() * 1000 })]);
  await waitFor(
    'the selection in /metrics',
    async () => equals(sample((await serve.get('/metrics')).text, 'stickyscope_service_selections_total'), 1),
    10_000,
    50,
  );
  for (const path of ['/report.json', '/report.md', '/report.html?window=all']) {
    const plain = await serve.get(path);
    assert.equal(plain.status, 403, `${path} in plaintext on 0.0.0.0: ${plain.text.slice(0, 200)}`);
    assert.match(plain.text, /serve --report-listen serves them over mutual TLS, or --listen on loopback/);
  }
  assert.equal((await serve.get('/healthz')).status, 200);
  assert.equal((await serve.get('/readyz')).status, 200);
});

test('serve: reports only over mutual TLS beyond loopback; /metrics and health stay plain', async (t) => {
  const pki = await makePki(t);
  const source = new FakeSource();
  const agent = getServer(source, { node: 'node-a' });
  const address = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  // The pki's agent certificate n1 (serverAuth) serves the reports here; its CA signs the clients.
  const serve = await startServe(t, [
    '--agent',
    address,
    '--listen',
    '0.0.0.0:0',
    '--report-listen',
    '127.0.0.1:0',
    '--report-tls-cert',
    `${pki.dir}/n1.crt`,
    '--report-tls-key',
    `${pki.dir}/n1.key`,
    '--report-tls-client-ca',
    `${pki.dir}/ca.crt`,
  ]);
  await serve.run.waitFor(/reports on https:\/\/\S+, mutual TLS/);
  const tlsAddress = /reports on https:\/\/(\S+),/.exec(serve.run.stderr())![1]!;
  await waitFor('serve to subscribe', () => equals(agent.info().subscribers, 1), 10_000);
  source.emitEvents([dnat(1, 'node-a', { ts: Date.now() * 1000 })]);
  await waitFor(
    'the selection in /metrics',
    async () => equals(sample((await serve.get('/metrics')).text, 'stickyscope_service_selections_total'), 1),
    10_000,
    50,
  );
  assert.equal((await serve.get('/healthz')).status, 200);
  assert.equal((await serve.get('/readyz')).status, 200);

  for (const path of ['/report.json', '/report.md', '/report.html?window=all']) {
    const plain = await serve.get(path);
    assert.equal(plain.status, 403, `${path} in plaintext on 0.0.0.0: ${plain.text}`);
    assert.match(plain.text, /reports name every client address: not served in plaintext beyond loopback/);
    assert.ok(plain.text.includes(`https://${tlsAddress}`), `says where: ${plain.text}`);
  }

  const ok = await tlsGet(pki, tlsAddress, '/report.json', 'client');
  assert.equal(ok.status, 200, ok.text);
  assert.equal((JSON.parse(ok.text) as { services: { selections: number }[] }).services[0]!.selections, 1);
  await assert.rejects(tlsGet(pki, tlsAddress, '/report.json'), 'no client certificate: refused');
  await assert.rejects(tlsGet(pki, tlsAddress, '/report.json', 'stranger'), "another CA's certificate: refused");
  await assert.rejects(tlsGet(pki, tlsAddress, '/report.json', 'expired'), 'an expired certificate: refused');

  // A renewed certificate (as cert-manager rotates the Secret) is served to new connections, re-read within 10 s.
  const { makeAgentCert } = await import('../../src/certs/make-certs.js');
  const { X509Certificate } = await import('node:crypto');
  const renewed = await makeAgentCert(pki.ca, 'n1');
  const want = new X509Certificate(renewed.cert).serialNumber;
  assert.notEqual(ok.serial, want);
  pki.put('n1', renewed);
  await waitFor(
    'the renewed certificate served',
    async () => equals((await tlsGet(pki, tlsAddress, '/report.json', 'client')).serial, want),
    15_000,
    200,
  );
  assert.equal((await serve.stop()).code, 0, serve.run.stderr());
});

test('serve refuses half-given or plaintext report TLS flags (exit 2) and missing files (exit 4) at start, in one line', async () => {
  const cases: [string[], number, RegExp][] = [
    [['--report-listen', '127.0.0.1:0'], 2, /--report-listen serves the reports over mutual TLS only/],
    [['--report-tls-dir', '/nonexistent'], 2, /give --report-listen HOST:PORT too/],
    [
      ['--report-listen', '127.0.0.1:0', '--report-tls-dir', '/nonexistent'],
      4,
      /failed to read --report-tls-cert \/nonexistent\/tls\.crt: ENOENT/,
    ],
  ];
  for (const [args, code, message] of cases) {
    const r = await runCli(['serve', '--agent', '127.0.0.1:7390', '--listen', '127.0.0.1:0', ...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  }
});
