// Mutual TLS for the agent's gRPC link: the agent's credentials (its certificate, key and
// the CA that signs clients, re-read when the files change), the clients' (their own
// certificate, and the agent's name checked), and the rule for when plaintext is allowed.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, createSecureContext, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { InputError, UsageError } from '../core/errors.js';
import { readSmallFile } from '../core/small-file.js';
import { CheckedCertificateFiles } from './cert-rotation.js';
import { AGENT_DOMAIN, agentServerName, type AgentTlsFiles, type ClientTls } from '../certs/names.js';

export { AGENT_DOMAIN, agentServerName, type AgentTlsFiles, type ClientTls } from '../certs/names.js';

function read(file: string, flag: string): Buffer {
  return readSmallFile(file, flag);
}

function certificate(pem: Buffer, file: string, flag: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new InputError(`${flag} ${file} is not a certificate; expected a PEM file (-----BEGIN CERTIFICATE-----)`);
  }
}

/**
 * Reads and checks a certificate, its key and a CA, so that a wrong file fails at start in
 * one line instead of as refused connections later. `name`, when given, must be one of
 * the certificate's names.
 */
export function checkKeyPair(
  files: { cert: string; key: string; ca: string },
  flags: { cert: string; key: string; ca: string },
  name?: string,
  purpose: 'server' | 'client' = name === undefined ? 'client' : 'server',
): KeyPairPem {
  const certPem = read(files.cert, flags.cert);
  const keyPem = read(files.key, flags.key);
  const caPem = read(files.ca, flags.ca);
  const cert = certificate(certPem, files.cert, flags.cert);
  const ca = certificate(caPem, files.ca, flags.ca);
  if (!ca.ca) throw new InputError(`${flags.ca} ${files.ca} is not a CA certificate (${ca.subject.trim()})`);
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new InputError(
      `${flags.key} ${files.key} is not a private key; expected a PEM file (-----BEGIN PRIVATE KEY-----)`,
    );
  }
  if (!cert.checkPrivateKey(key))
    throw new InputError(`${flags.key} ${files.key} is not the key of ${flags.cert} ${files.cert}`);
  const now = Date.now();
  if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now)
    throw new InputError(
      `${flags.cert} ${files.cert} is not valid now: valid from ${cert.validFrom} to ${cert.validTo}`,
    );
  if (name !== undefined && cert.checkHost(name) === undefined)
    throw new InputError(
      `${flags.cert} ${files.cert} does not name ${name} (it names ${cert.subjectAltName ?? 'nothing'}); clients expect that name`,
    );
  // Without the purpose in its extended key usage, every peer refuses the handshake with an "unsuitable certificate
  // purpose" that names neither side: say it here, at start.
  const usages = cert.keyUsage;
  if (usages !== undefined && !usages.includes(EKU[purpose]))
    throw new InputError(
      `${flags.cert} ${files.cert} is not for TLS ${purpose}s: its extended key usage is ${usages.map((u) => EKU_NAMES[u] ?? u).join(', ') || 'empty'}; expected ${purpose}Auth${purpose === 'server' ? " (an agent's certificate, as 'stickyscope certs --node' makes)" : ''}`,
    );
  createSecureContext({ cert: certPem, key: keyPem, ca: caPem });
  return { cert: certPem, key: keyPem, ca: caPem };
}

/** The three PEM files of one end of the link, as read and checked together. */
export interface KeyPairPem {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

/** The extended key usages a certificate needs for each end of the link. */
const EKU = { server: '1.3.6.1.5.5.7.3.1', client: '1.3.6.1.5.5.7.3.2' } as const;
const EKU_NAMES: Record<string, string> = { [EKU.server]: 'serverAuth', [EKU.client]: 'clientAuth' };

/** The agent's files checked, before anything starts: see checkKeyPair. */
export function checkAgentTls(files: AgentTlsFiles, node: string): KeyPairPem {
  return checkKeyPair(
    { cert: files.cert, key: files.key, ca: files.clientCa },
    { cert: '--tls-cert', key: '--tls-key', ca: '--tls-client-ca' },
    agentServerName(node),
  );
}

/**
 * The agent's credentials: TLS only, and a client certificate signed by the client CA
 * required. The files are re-read every `refreshMs` and checked as at start before they are
 * served (src/protocol/cert-rotation.ts): a rotated certificate serves new connections while
 * the open streams go on, and a bad rotation keeps the last good files, said through
 * `onRefused`.
 */
export async function agentCredentials(
  files: AgentTlsFiles,
  node: string,
  refreshMs = 10_000,
  onRefused: (message: string) => void = () => {},
): Promise<grpc.ServerCredentials> {
  const provider = new CheckedCertificateFiles(() => checkAgentTls(files, node), refreshMs, onRefused);
  // One provider for both roles: grpc-js takes the identity and the CA from it.
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true);
}

/** What the client learnt from the agent's certificate during the handshake. */
export interface PeerIdentity {
  /** The node the certificate names, when it names exactly one. */
  node?: string;
}

function dnsNames(cert: PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
}

export interface ClientLink {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
  peer: PeerIdentity;
}

/**
 * A client's credentials for one connection attempt. The files are read each time, so a
 * rotated client certificate is used from the next connection on. The agent must be
 * signed by the CA and named `tls.serverName`, else NODE.agent.stickyscope.local for
 * the node it is known to run on, else any NODE.agent.stickyscope.local, which the
 * caller then holds to the node the agent says it is (`peer.node`).
 */
export function clientLink(tls: ClientTls, node?: string): ClientLink {
  const ca = read(tls.ca, '--tls-ca');
  const key = read(tls.key, '--tls-key');
  const cert = read(tls.cert, '--tls-cert');
  const expected = tls.serverName ?? (node ? agentServerName(node) : undefined);
  const peer: PeerIdentity = {};
  const verify = (_host: string, c: PeerCertificate): Error | undefined => {
    const names = dnsNames(c);
    if (expected !== undefined) {
      if (!checkServerIdentity(expected, c)) return undefined;
      return new Error(`the agent's certificate names ${names.join(', ') || 'no DNS name'}; expected ${expected}`);
    }
    const agentNames = names.filter((n) => n.endsWith(`.${AGENT_DOMAIN}`));
    if (agentNames.length === 0)
      return new Error(
        `the agent's certificate names ${names.join(', ') || 'no DNS name'}; expected a name NODE.${AGENT_DOMAIN}`,
      );
    const exact = agentNames.filter((n) => !n.startsWith('*.'));
    if (exact.length === 1) peer.node = exact[0]!.slice(0, -(AGENT_DOMAIN.length + 1));
    return undefined;
  };
  return {
    credentials: grpc.credentials.createSsl(ca, key, cert, { checkServerIdentity: verify }),
    // The name sent (SNI) and checked is the agent's, never the address it was reached at.
    options: { 'grpc.ssl_target_name_override': expected ?? AGENT_DOMAIN },
    peer,
  };
}

/** "host" of "host:port" or "[v6]:port". */
export function hostOf(address: string): string {
  const host = address.slice(0, address.lastIndexOf(':'));
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export function isLoopback(address: string): boolean {
  const host = hostOf(address);
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\./i.test(host);
}

/**
 * Plaintext only on loopback: an agent's stream names every client of the node, and its
 * Subscribe answers anyone who connects. Elsewhere it takes TLS or an explicit --insecure.
 */
export function checkPlaintextAllowed(addresses: string[], tls: ClientTls | undefined, insecure: boolean): void {
  if (tls || insecure) return;
  const remote = addresses.filter((a) => !isLoopback(a));
  if (remote.length > 0)
    throw new UsageError(
      `refusing to connect to ${remote.join(', ')} without TLS: the stream carries client addresses; give --tls-ca, --tls-cert and --tls-key (see 'stickyscope certs'), or --insecure`,
    );
}
