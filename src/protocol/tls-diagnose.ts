// Why a connection to an agent failed, in words: grpc-js says only "Failed to connect" when the agent refuses our
// certificate (Node's server checks it after the handshake and just closes), so one plain TLS handshake with the same
// files asks again, and our own certificate is looked at for the likely reason.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type ConnectionOptions } from 'node:tls';
import { hostOf, type ClientTls } from './tls.js';

/** OpenSSL alert and verify codes, as Node names them, and what they mean here. */
const MEANINGS: [RegExp, string][] = [
  [
    /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED/,
    "the agent's certificate is not signed by --tls-ca",
  ],
  [/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/, "the agent's certificate is expired or not yet valid"],
  [
    /WRONG_VERSION_NUMBER|ECONNRESET|socket disconnected/i,
    'the agent does not speak TLS (started without --tls-cert?)',
  ],
];

function meaning(err: NodeJS.ErrnoException): string {
  const text = `${err.code ?? ''} ${err.message}`;
  const found = MEANINGS.find(([re]) => re.test(text));
  return found ? `${found[1]} (${err.code ?? err.message})` : err.message;
}

/** The agent closed right after the handshake: it did not take our certificate. Why, most likely. */
function refused(tls: ClientTls): string {
  const head = `the agent refused our certificate --tls-cert ${tls.cert}`;
  try {
    const cert = new X509Certificate(readFileSync(tls.cert));
    const ca = new X509Certificate(readFileSync(tls.ca));
    const now = Date.now();
    if (Date.parse(cert.validTo) < now) return `${head}: it expired on ${cert.validTo}`;
    if (Date.parse(cert.validFrom) > now) return `${head}: it is valid only from ${cert.validFrom}`;
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
      return `${head}: it is signed by ${cert.issuer.trim()}, not by --tls-ca ${tls.ca} (the CA the agent most likely trusts)`;
  } catch {
    // Unreadable now (rotated away?): the generic reason below.
  }
  return `${head}: not signed by the agent's --tls-client-ca, or not a client certificate`;
}

/**
 * Handshakes with the agent at `address` as the client would and says what went wrong,
 * or null when nothing did (the failure was elsewhere: the agent down, no route).
 * Without `tls`, finds out whether the agent wants TLS.
 */
export function diagnoseTls(address: string, tls: ClientTls | undefined, timeoutMs = 2000): Promise<string | null> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const opts: ConnectionOptions = { host: hostOf(address), port, ALPNProtocols: ['h2'] };
  if (tls) {
    // Names are checked by the client itself; this looks at the certificates only.
    Object.assign(opts, { servername: undefined, checkServerIdentity: () => undefined });
  } else {
    opts.rejectUnauthorized = false;
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    let socket: ReturnType<typeof connect>;
    try {
      if (tls) {
        Object.assign(opts, { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) });
      }
      socket = connect(opts);
    } catch (err) {
      resolve((err as Error).message);
      return;
    }
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('secureConnect', () => {
      if (!tls) return done('the agent serves TLS only; connect with --tls-ca, --tls-cert and --tls-key');
      // The agent judges our certificate after the handshake: it then speaks HTTP/2, or hangs up.
      socket.once('data', () => done(null));
      socket.once('end', () => done(refused(tls)));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Not a TLS matter (refused, unreachable): the client's own reason says it best.
      if (!tls || /^E(?!CONNRESET)[A-Z]+$/.test(err.code ?? '')) return done(null);
      done(meaning(err));
    });
    socket.on('close', () => done(null));
  });
}
