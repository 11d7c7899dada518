// The agent's certificate files, re-read on a timer and served only once they pass the checks made at start (a key
// that is the certificate's, a CA, in validity, the node's name, serverAuth). grpc-js's own file watcher served
// whatever it read: a garbage CA refused every client (which blamed its own certificate), a mismatched key looked like
// "does not speak TLS", and a FIFO wedged its reads for good. Here a bad rotation keeps the last good files and is
// said once per distinct reason; files are read only as small regular files (src/core/small-file.ts), never blocking.
import type { experimental } from '@grpc/grpc-js';
import type { KeyPairPem } from './tls.js';

type CertificateProvider = experimental.CertificateProvider;
type CaCertificateUpdateListener = experimental.CaCertificateUpdateListener;
type IdentityCertificateUpdateListener = experimental.IdentityCertificateUpdateListener;

export class CheckedCertificateFiles implements CertificateProvider {
  private current: KeyPairPem;
  private readonly ca = new Set<CaCertificateUpdateListener>();
  private readonly identity = new Set<IdentityCertificateUpdateListener>();
  private timer: NodeJS.Timeout | null = null;
  private lastRefusal = '';
  private pending = '';
  /** Rotations refused since start, one per distinct reason said. */
  refusals = 0;

  /** `read` reads and checks the three files, throwing a one-line error; it runs once now (failing the start). */
  constructor(
    private readonly read: () => KeyPairPem,
    private readonly refreshMs: number,
    private readonly onRefused: (message: string) => void,
  ) {
    this.current = read();
  }

  addCaCertificateListener(l: CaCertificateUpdateListener): void {
    this.ca.add(l);
    // Told after the call returns: grpc-js registers its server as a watcher only after adding the listener.
    queueMicrotask(() => this.ca.has(l) && l({ caCertificate: this.current.ca }));
    this.watch();
  }

  removeCaCertificateListener(l: CaCertificateUpdateListener): void {
    this.ca.delete(l);
    this.unwatchIfIdle();
  }

  addIdentityCertificateListener(l: IdentityCertificateUpdateListener): void {
    this.identity.add(l);
    queueMicrotask(() => this.identity.has(l) && l({ certificate: this.current.cert, privateKey: this.current.key }));
    this.watch();
  }

  removeIdentityCertificateListener(l: IdentityCertificateUpdateListener): void {
    this.identity.delete(l);
    this.unwatchIfIdle();
  }

  /** One re-read: served when it checks out and changed, kept out (and said once) when it does not. */
  refresh(): void {
    let next: KeyPairPem;
    try {
      next = this.read();
    } catch (err) {
      // Files swapped one by one (a new key renamed in before its certificate) disagree for an instant: a refusal
      // counts once the same reason is read twice in a row.
      const message = `refused the rotated TLS files, serving the previous ones: ${(err as Error).message}`;
      if (message !== this.pending) {
        this.pending = message;
        return;
      }
      if (message !== this.lastRefusal) {
        this.refusals++;
        this.onRefused(message);
      }
      this.lastRefusal = message;
      return;
    }
    this.pending = '';
    this.lastRefusal = '';
    const same = next.cert.equals(this.current.cert) && next.key.equals(this.current.key);
    const sameCa = next.ca.equals(this.current.ca);
    this.current = next;
    if (!same) for (const l of this.identity) l({ certificate: next.cert, privateKey: next.key });
    if (!sameCa) for (const l of this.ca) l({ caCertificate: next.ca });
  }

  private watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.refresh(), this.refreshMs);
    // The server's listeners keep it going while it serves; the timer alone must not keep the process alive.
    this.timer.unref();
  }

  private unwatchIfIdle(): void {
    if (this.ca.size > 0 || this.identity.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}
