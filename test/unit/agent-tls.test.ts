// Mutual TLS on the agent's link, certificates made in the test: a good client streams; plaintext, no client certificate,
// another CA's, an expired one, a wrong agent name and an agent naming another node are refused, each with its reason;
// a certificate replaced on disk is served to new connections while an open stream goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { AgentConnection, type AgentLink, type AgentStatus } from '../../src/protocol/agent-connection.js';
import { infoMethod } from '../../src/protocol/service-def.js';
import { makeAgentCert } from '../../src/certs/make-certs.js';
import type { StickyEvent } from '../../src/core/event.js';
import { dnat, sleep } from '../helpers/agent-fake-source.js';
import { makePki, startTlsAgent, type TlsAgent } from '../helpers/tls-fixture.js';
import { waitFor, equals } from '../helpers/wait.js';

const fast = { initialMs: 50, maxMs: 200 };

function watch(t: { after(fn: () => unknown): void }, address: string, link: AgentLink) {
  const conn = new AgentConnection(address, {}, fast, undefined, link);
  t.after(() => conn.stop());
  const events: StickyEvent[] = [];
  const statuses: AgentStatus[] = [];
  conn.on('events', (e: StickyEvent[]) => events.push(...e));
  conn.on('status', (s: AgentStatus) => statuses.push(s));
  return { conn, events, statuses, dnat: () => events.filter((e) => e.type === 'dnat').length };
}

/** The first status of a connection that must fail: down, with its reason; nothing streamed. */
async function refusal(agent: TlsAgent, link: AgentLink, t: Parameters<typeof watch>[0]): Promise<string> {
  const w = watch(t, agent.address, link);
  await waitFor('a status', () => w.statuses.length > 0, 10_000);
  const s = w.statuses[0]!;
  assert.equal(s.state, 'down', `expected a refusal; got ${JSON.stringify(s)}`);
  assert.equal(agent.server.info().subscribers, 0, 'no subscription got through');
  assert.equal(w.dnat(), 0);
  return s.reason!;
}

test("a client with a certificate from the CA streams the agent's events", async (t) => {
  const pki = await makePki(t);
  const agent = await startTlsAgent(t, pki);
  const w = watch(t, agent.address, { tls: pki.client('client'), node: 'n1' });
  await waitFor('the subscription', () => equals(agent.server.info().subscribers, 1), 10_000);
  agent.source.emitEvents([dnat(1, 'n1'), dnat(2, 'n1')]);
  await waitFor('two events', () => equals(w.dnat(), 2), 10_000);
  assert.deepEqual(
    w.statuses.map((s) => [s.node, s.state]),
    [['n1', 'up']],
  );
  // Without a known node, any agent name is taken and held to the node the agent reports.
  const anyName = watch(t, agent.address, { tls: pki.client('client') });
  await waitFor('a status', () => anyName.statuses.length > 0, 10_000);
  assert.equal(anyName.statuses[0]!.state, 'up');
});

test('plaintext, another CA, an expired certificate, a wrong name and a node mismatch are refused, each said', async (t) => {
  const pki = await makePki(t);
  const agent = await startTlsAgent(t, pki);
  assert.match(
    await refusal(agent, {}, t),
    /the agent serves TLS only; connect with --tls-ca, --tls-cert and --tls-key/,
  );
  assert.match(
    await refusal(agent, { tls: pki.client('stranger') }, t),
    /the agent refused our certificate --tls-cert \S+stranger\.crt: it is signed by CN=another CA, not by --tls-ca/,
  );
  assert.match(
    await refusal(agent, { tls: pki.client('expired') }, t),
    /the agent refused our certificate --tls-cert \S+expired\.crt: it expired on /,
  );
  assert.match(
    await refusal(agent, { tls: pki.client('client'), node: 'n2' }, t),
    /the agent's certificate names n1\.agent\.stickyscope\.local; expected n2\.agent\.stickyscope\.local/,
  );
  assert.match(
    await refusal(agent, { tls: pki.client('client', 'x.agent.stickyscope.local') }, t),
    /expected x\.agent\.stickyscope\.local/,
  );
  // The CA signed a client certificate; it cannot serve as an agent's.
  const posing = await startTlsAgentWithCert(t, pki, 'client');
  assert.match(
    await refusal(posing, { tls: pki.client('client') }, t),
    /unsuitable certificate purpose|INVALID_PURPOSE/i,
  );
  // An agent certificate for n1 on an agent that says it is n9: not believed.
  const liar = await startTlsAgent(t, pki, { node: 'n9' });
  assert.match(
    await refusal(liar, { tls: pki.client('client') }, t),
    /its certificate is for node n1 but it says it is node n9/,
  );
});

test('a client without a certificate is refused by the agent', async (t) => {
  const pki = await makePki(t);
  const agent = await startTlsAgent(t, pki);
  const creds = grpc.credentials.createSsl(readFileSync(join(pki.dir, 'ca.crt')));
  const client = new grpc.Client(agent.address, creds, {
    'grpc.ssl_target_name_override': 'n1.agent.stickyscope.local',
  });
  t.after(() => client.close());
  const err = await new Promise<grpc.ServiceError | null>((resolve) =>
    client.makeUnaryRequest(
      infoMethod.path,
      infoMethod.requestSerialize,
      infoMethod.responseDeserialize,
      {},
      { deadline: Date.now() + 3000 },
      (e) => resolve(e),
    ),
  );
  assert.equal(err?.code, grpc.status.UNAVAILABLE, `expected UNAVAILABLE; got ${err?.code} ${err?.details}`);
});

/** The certificate a fresh handshake with the agent gets, as its SHA-256 fingerprint. */
function servedFingerprint(address: string, pkiDir: string): Promise<string> {
  const port = Number(address.split(':')[1]);
  return new Promise((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(join(pkiDir, 'ca.crt')),
      cert: readFileSync(join(pkiDir, 'client.crt')),
      key: readFileSync(join(pkiDir, 'client.key')),
      servername: 'n1.agent.stickyscope.local',
      ALPNProtocols: ['h2'],
    });
    s.once('secureConnect', () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.once('error', reject);
  });
}

test('a certificate replaced on disk is served to new connections; the open stream goes on', async (t) => {
  const pki = await makePki(t);
  const agent = await startTlsAgent(t, pki, { refreshMs: 200 });
  const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
  const before = fingerprint(join(pki.dir, 'n1.crt'));
  assert.equal(await servedFingerprint(agent.address, pki.dir), before);

  const w = watch(t, agent.address, { tls: pki.client('client'), node: 'n1' });
  await waitFor('the subscription', () => equals(agent.server.info().subscribers, 1), 10_000);
  agent.source.emitEvents([dnat(1, 'n1')]);
  await waitFor('the first event', () => equals(w.dnat(), 1), 10_000);

  // As cert-manager and the kubelet do it: new files, swapped in by rename.
  const next = await makeAgentCert(pki.ca, 'n1');
  writeFileSync(join(pki.dir, 'n1.key.new'), next.key);
  writeFileSync(join(pki.dir, 'n1.crt.new'), next.cert);
  renameSync(join(pki.dir, 'n1.key.new'), join(pki.dir, 'n1.key'));
  renameSync(join(pki.dir, 'n1.crt.new'), join(pki.dir, 'n1.crt'));
  const after = fingerprint(join(pki.dir, 'n1.crt'));
  assert.notEqual(after, before);
  await waitFor(
    'the agent to serve the new certificate',
    async () => equals(await servedFingerprint(agent.address, pki.dir), after),
    5000,
    100,
  );
  agent.source.emitEvents([dnat(2, 'n1'), dnat(3, 'n1')]);
  await waitFor('the events after the rotation, on the same stream', () => equals(w.dnat(), 3), 10_000);
  assert.deepEqual(
    w.statuses.map((s) => s.state),
    ['up'],
    'the stream was never dropped',
  );
  assert.equal(agent.server.info().subscribers, 1);
  // And a new client connects with the new certificate.
  const fresh = watch(t, agent.address, { tls: pki.client('client'), node: 'n1' });
  await waitFor('a status', () => fresh.statuses.length > 0, 10_000);
  assert.equal(fresh.statuses[0]!.state, 'up');
});

/** An agent serving any certificate of the pki, bypassing the agent's own checks of it. */
async function startTlsAgentWithCert(t: { after(fn: () => unknown): void }, pki: { dir: string }, name: string) {
  const { getServer } = await import('../../src/agent/server.js');
  const { FakeSource } = await import('../helpers/agent-fake-source.js');
  const source = new FakeSource();
  const read = (f: string) => readFileSync(join(pki.dir, f));
  const credentials = grpc.ServerCredentials.createSsl(
    read('ca.crt'),
    [{ cert_chain: read(`${name}.crt`), private_key: read(`${name}.key`) }],
    true,
  );
  const server = getServer(source, { node: 'n1', credentials });
  const address = await server.bind('127.0.0.1:0');
  t.after(() => server.close());
  return { source, server, address } satisfies TlsAgent;
}

test('a bad rotation (garbage CA, a key of another certificate, a FIFO) keeps the last good files, said once each', async (t) => {
  const pki = await makePki(t);
  const { agentCredentials } = await import('../../src/protocol/tls.js');
  const { getServer } = await import('../../src/agent/server.js');
  const { FakeSource } = await import('../helpers/agent-fake-source.js');
  const refused: string[] = [];
  // The agent's own copy of the CA: the test's client keeps trusting the original while the agent's is broken.
  writeFileSync(join(pki.dir, 'agent-ca.crt'), readFileSync(join(pki.dir, 'ca.crt')));
  const files = {
    cert: join(pki.dir, 'n1.crt'),
    key: join(pki.dir, 'n1.key'),
    clientCa: join(pki.dir, 'agent-ca.crt'),
  };
  const credentials = await agentCredentials(files, 'n1', 50, (m) => refused.push(m));
  const server = getServer(new FakeSource(), { node: 'n1', credentials });
  const address = await server.bind('127.0.0.1:0');
  t.after(() => server.close());
  const good = await servedFingerprint(address, pki.dir);
  const serves = async () => {
    assert.equal(await servedFingerprint(address, pki.dir), good, 'the last good certificate is served');
  };
  const swap = (file: string, write: (tmp: string) => void) => {
    const tmp = `${file}.new`;
    write(tmp);
    renameSync(tmp, file);
  };
  const caPem = readFileSync(files.clientCa);

  swap(files.clientCa, (tmp) => writeFileSync(tmp, 'garbage\n'));
  await waitFor('the garbage CA refused', () => refused.length === 1, 10_000);
  assert.match(
    refused[0]!,
    /refused the rotated TLS files, serving the previous ones: --tls-client-ca \S+ca\.crt is not a certificate/,
  );
  await serves();
  swap(files.clientCa, (tmp) => writeFileSync(tmp, caPem));

  const other = await makeAgentCert(pki.ca, 'n1');
  swap(files.key, (tmp) => writeFileSync(tmp, other.key));
  await waitFor('the mismatched key refused', () => refused.length === 2, 10_000);
  assert.match(refused[1]!, /--tls-key \S+n1\.key is not the key of --tls-cert/);
  await serves();

  rmSync(files.key);
  execFileSync('mkfifo', [files.key]);
  await waitFor('the FIFO refused', () => refused.length === 3, 10_000);
  assert.match(refused[2]!, /not a regular file \(a FIFO\)/);
  await serves();
  await sleep(300);
  assert.equal(refused.length, 3, 'each reason said once');
  // ... and counted in the agent's metric, as the agent wires the same callback (0 without TLS).
  const { createAgentMetrics } = await import('../../src/agent/metrics.js');
  const scrape = async (tlsRefusals?: () => number) => {
    const m = createAgentMetrics({ node: 'n1', probe: new FakeSource(), server, attachPoints: [], tlsRefusals });
    const text = await m.registry.metrics();
    m.detach();
    return text;
  };
  assert.match(await scrape(() => refused.length), /^stickyscope_agent_tls_rotations_refused_total\{node="n1"\} 3$/m);
  assert.match(await scrape(), /^stickyscope_agent_tls_rotations_refused_total\{node="n1"\} 0$/m);

  // Good files again, a new pair: the watcher was not wedged by the FIFO.
  rmSync(files.key);
  swap(files.key, (tmp) => writeFileSync(tmp, other.key));
  swap(files.cert, (tmp) => writeFileSync(tmp, other.cert));
  const next = new X509Certificate(other.cert).fingerprint256;
  const end = Date.now() + 5000;
  while ((await servedFingerprint(address, pki.dir)) !== next) {
    assert.ok(Date.now() < end, 'the new certificate is served within 5 s');
    await sleep(50);
  }
});
