// A private CA for the agents' gRPC link, and the certificates it signs: one per agent
// node (DNS name NODE.agent.stickyscope.local, server use only) and clients (client use
// only). ECDSA P-256 keys, made with WebCrypto and written as PEM (keys PKCS#8, mode 0600).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { makeDirectory } from '../core/file-errors.js';
import { InputError, UsageError } from '../core/errors.js';
import { agentServerName } from './names.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface Ca {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface PemPair {
  cert: string;
  key: string;
}

/** Validity of a certificate: from a minute ago (clock skew) for `days`, unless given outright. */
export interface Validity {
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
}

function period(v: Validity): { notBefore: Date; notAfter: Date } {
  const notBefore = v.notBefore ?? new Date(Date.now() - 60_000);
  return { notBefore, notAfter: v.notAfter ?? new Date(notBefore.getTime() + (v.days ?? 365) * DAY_MS) };
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function makeCa(name = 'stickyscope agents CA', validity: Validity = { days: 3650 }): Promise<Ca> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${name}`,
    keys,
    signingAlgorithm: SIGNING,
    ...period(validity),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

/** A CA written earlier (ca.crt, ca.key), so certificates added later chain to the same root. */
async function loadCa(certPem: string, keyPem: string): Promise<Ca> {
  const cert = new x509.X509Certificate(certPem);
  const der = x509.PemConverter.decodeFirst(keyPem);
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, true, ['sign']);
  const publicKey = await cert.publicKey.export(KEY_ALGORITHM, ['verify']);
  return { cert, keys: { privateKey, publicKey } };
}

async function issue(
  ca: Ca,
  subject: string,
  usage: x509.ExtendedKeyUsage,
  names: string[],
  validity: Validity,
): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([usage], false),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
  ];
  if (names.length > 0)
    extensions.push(new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))));
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${subject}`,
    issuer: ca.cert.subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGNING,
    ...period(validity),
    extensions,
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/** The agent certificate of node `node`: what clients expect when they connect to it. */
export function makeAgentCert(ca: Ca, node: string, validity: Validity = {}): Promise<PemPair> {
  return issue(ca, node, x509.ExtendedKeyUsage.serverAuth, [agentServerName(node)], validity);
}

/** The names of serve's reports listener (deploy/): its Service, in-cluster, and localhost for kubectl port-forward. */
export const AGGREGATOR_NAMES = ['stickyscope-aggregator', 'stickyscope-aggregator.stickyscope.svc', 'localhost'];

/** The certificate of serve's reports listener (serve --report-listen), server use only. */
function makeAggregatorCert(ca: Ca, validity: Validity = {}): Promise<PemPair> {
  return issue(ca, 'stickyscope-aggregator', x509.ExtendedKeyUsage.serverAuth, AGGREGATOR_NAMES, validity);
}

export function makeClientCert(ca: Ca, name: string, validity: Validity = {}): Promise<PemPair> {
  return issue(ca, name, x509.ExtendedKeyUsage.clientAuth, [], validity);
}

export async function caPem(ca: Ca): Promise<PemPair> {
  return { cert: ca.cert.toString('pem'), key: await keyPem(ca.keys.privateKey) };
}

export interface CertDirOptions {
  nodes: string[];
  /** Client certificate names (client NAME -> NAME.crt/NAME.key). */
  clients: string[];
  days: number;
}

export interface CertDir {
  dir: string;
  /** True when ca.crt/ca.key were there already and were used. */
  reusedCa: boolean;
  /** File names written, relative to dir. */
  written: string[];
}

/** Node and client names become file names, and node names DNS labels. */
function checkCertName(name: string, what: string): void {
  if (!/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(name) || name.includes('..'))
    throw new UsageError(
      `${what} expects a Kubernetes node name (lowercase letters, digits, '-' and '.', at most 63); got '${name}'`,
    );
}

/**
 * Puts `text` at `path` as a new file of `mode`: created exclusively under a fresh name (O_EXCL never follows a
 * symlink, so a planted link cannot redirect the key) and renamed over the old one (which replaces a link itself, not
 * its target). Writing into the old file would keep its mode: a world-readable NODE.key stayed 0644.
 */
function replaceFile(path: string, text: string, mode: number): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, text);
    fchmodSync(fd, mode);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * Writes ca.crt (+ ca.key), NODE.crt/NODE.key per node and NAME.crt/NAME.key per client
 * into `dir`. An existing ca.crt/ca.key pair there is reused, so nodes can be added later.
 */
export async function writeCertDir(dir: string, opts: CertDirOptions): Promise<CertDir> {
  for (const n of opts.nodes) checkCertName(n, '--node');
  for (const c of opts.clients) checkCertName(c, '--client');
  const clash = opts.clients.find((c) => opts.nodes.includes(c) || c === 'ca' || c === 'aggregator');
  if (clash)
    throw new UsageError(
      `--client '${clash}' would overwrite a node's, the CA's or the aggregator's files; pick another name`,
    );
  if (opts.nodes.includes('aggregator'))
    throw new UsageError(
      "--node 'aggregator' would overwrite the aggregator's files; its agent needs a certificate of another name",
    );
  makeDirectory(dir, 0o700, 'create the directory');
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const reusedCa = existsSync(caCert) && existsSync(caKey);
  let ca: Ca;
  if (reusedCa) {
    try {
      ca = await loadCa(readFileSync(caCert, 'utf8'), readFileSync(caKey, 'utf8'));
    } catch (err) {
      throw new InputError(
        `failed to read the CA in ${dir} (ca.crt, ca.key): ${(err as Error).message}; expected the PEM files 'stickyscope certs' writes`,
      );
    }
  } else {
    ca = await makeCa();
  }
  const written: string[] = [];
  const put = (name: string, pair: PemPair) => {
    replaceFile(join(dir, `${name}.crt`), pair.cert, 0o644);
    replaceFile(join(dir, `${name}.key`), pair.key, 0o600);
    written.push(`${name}.crt`, `${name}.key`);
  };
  if (!reusedCa) put('ca', await caPem(ca));
  const validity = { days: opts.days };
  for (const n of opts.nodes) put(n, await makeAgentCert(ca, n, validity));
  for (const c of opts.clients) put(c, await makeClientCert(ca, c, validity));
  put('aggregator', await makeAggregatorCert(ca, validity));
  return { dir, reusedCa, written };
}
