// Certificates made in the test (a CA, an agent certificate for node n1, a good client,
// one from another CA, an expired one) and an agent server on loopback serving mutual TLS
// from them with a fake probe. Everything is removed in t.after.
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServer, type AgentServer } from '../../src/agent/server.js';
import { caPem, makeAgentCert, makeCa, makeClientCert, type Ca, type PemPair } from '../../src/certs/make-certs.js';
import { agentCredentials, type ClientTls } from '../../src/protocol/tls.js';
import { FakeSource } from './agent-fake-source.js';

export interface Pki {
  dir: string;
  ca: Ca;
  /** Writes NAME.crt and NAME.key; returns their paths. */
  put(name: string, pair: PemPair): { cert: string; key: string };
  /** Client TLS with the client certificate NAME (made by put) and our CA. */
  client(name: string, serverName?: string): ClientTls;
}

export async function makePki(t: TestContext): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await makeCa();
  const put = (name: string, pair: PemPair) => {
    const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    writeFileSync(files.cert, pair.cert);
    writeFileSync(files.key, pair.key, { mode: 0o600 });
    return files;
  };
  put('ca', await caPem(ca));
  put('n1', await makeAgentCert(ca, 'n1'));
  put('client', await makeClientCert(ca, 'client'));
  put('stranger', await makeClientCert(await makeCa('another CA'), 'stranger'));
  const dayMs = 86_400_000;
  put(
    'expired',
    await makeClientCert(ca, 'expired', {
      notBefore: new Date(Date.now() - 30 * dayMs),
      notAfter: new Date(Date.now() - dayMs),
    }),
  );
  return {
    dir,
    ca,
    put,
    client: (name, serverName) => ({
      ca: join(dir, 'ca.crt'),
      cert: join(dir, `${name}.crt`),
      key: join(dir, `${name}.key`),
      ...(serverName ? { serverName } : {}),
    }),
  };
}

export interface TlsAgent {
  source: FakeSource;
  server: AgentServer;
  address: string;
}

/**
 * An agent server serving the certificate CERT.crt of the pki (default n1), saying it is
 * node `node` (default: the certificate's), re-reading its files every `refreshMs`.
 */
export async function startTlsAgent(
  t: TestContext,
  pki: Pki,
  opts: { cert?: string; node?: string; refreshMs?: number } = {},
): Promise<TlsAgent> {
  const cert = opts.cert ?? 'n1';
  const source = new FakeSource();
  const credentials = await agentCredentials(
    { cert: join(pki.dir, `${cert}.crt`), key: join(pki.dir, `${cert}.key`), clientCa: join(pki.dir, 'ca.crt') },
    cert,
    opts.refreshMs,
  );
  const server = getServer(source, { node: opts.node ?? cert, credentials });
  const address = await server.bind('127.0.0.1:0');
  t.after(() => server.close());
  return { source, server, address };
}
