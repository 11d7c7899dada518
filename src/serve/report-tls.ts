// The listener of serve's reports beyond loopback: HTTPS that requires a client certificate
// signed by --report-tls-client-ca, the same mutual TLS the agents' stream takes, since a
// report names every client address that stream carries. Its files are checked at start as
// the agent's are, and re-read every 10 s (a renewed Secret is served without a restart; a
// bad rotation keeps the last good files and is said once).
import { join } from 'node:path';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UsageError } from '../core/errors.js';
import { CheckedCertificateFiles } from '../protocol/cert-rotation.js';
import { checkKeyPair, type KeyPairPem } from '../protocol/tls.js';

export interface ReportTls {
  /** Where the HTTPS listener binds, "host:port". */
  listen: string;
  cert: string;
  key: string;
  clientCa: string;
}

const FLAGS = { cert: '--report-tls-cert', key: '--report-tls-key', ca: '--report-tls-client-ca' };

export interface ReportTlsValues {
  'report-listen'?: string;
  'report-tls-cert'?: string;
  'report-tls-key'?: string;
  'report-tls-client-ca'?: string;
  'report-tls-dir'?: string;
}

/** The flags checked before anything starts: --report-listen with the three files (or --report-tls-dir), or none. */
export function parseReportTls(values: ReportTlsValues): ReportTls | undefined {
  const files = (['report-tls-cert', 'report-tls-key', 'report-tls-client-ca'] as const).filter(
    (f) => values[f] !== undefined,
  );
  const dir = values['report-tls-dir'];
  const listen = values['report-listen'];
  if (dir !== undefined && files.length > 0) throw new UsageError(`give --report-tls-dir or --${files[0]}, not both`);
  if (listen === undefined) {
    if (dir !== undefined || files.length > 0)
      throw new UsageError(
        `--${files[0] ?? 'report-tls-dir'} applies to the reports' listener: give --report-listen HOST:PORT too`,
      );
    return undefined;
  }
  let tls: ReportTls;
  if (dir !== undefined)
    tls = { listen, cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), clientCa: join(dir, 'ca.crt') };
  else if (files.length === 3)
    tls = {
      listen,
      cert: values['report-tls-cert']!,
      key: values['report-tls-key']!,
      clientCa: values['report-tls-client-ca']!,
    };
  else
    throw new UsageError(
      `--report-listen serves the reports over mutual TLS only: give --report-tls-cert, --report-tls-key and --report-tls-client-ca (or --report-tls-dir); got ${files.map((f) => `--${f}`).join(', ') || 'none of them'}`,
    );
  readReportTls(tls);
  return tls;
}

function readReportTls(tls: ReportTls): KeyPairPem {
  return checkKeyPair({ cert: tls.cert, key: tls.key, ca: tls.clientCa }, FLAGS, undefined, 'server');
}

/** The HTTPS server; `stop` ends the re-reading of its files. */
export function createReportsServer(
  tls: ReportTls,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  onRefused: (message: string) => void,
  refreshMs = 10_000,
): { server: Server; stop: () => void } {
  const first = readReportTls(tls);
  const files = new CheckedCertificateFiles(() => readReportTls(tls), refreshMs, onRefused);
  const server = createServer(
    { cert: first.cert, key: first.key, ca: first.ca, requestCert: true, rejectUnauthorized: true },
    handler,
  );
  let pem = first;
  // Told the files first at once (the same as read above), then on each rotation that checks out.
  const onIdentity = (u: { certificate: Buffer; privateKey: Buffer } | null) => {
    if (u) pem = { ...pem, cert: u.certificate, key: u.privateKey };
    server.setSecureContext({ cert: pem.cert, key: pem.key, ca: pem.ca });
  };
  const onCa = (u: { caCertificate: Buffer } | null) => {
    if (u) pem = { ...pem, ca: u.caCertificate };
    server.setSecureContext({ cert: pem.cert, key: pem.key, ca: pem.ca });
  };
  files.addIdentityCertificateListener(onIdentity);
  files.addCaCertificateListener(onCa);
  return {
    server,
    stop() {
      files.removeIdentityCertificateListener(onIdentity);
      files.removeCaCertificateListener(onCa);
    },
  };
}
