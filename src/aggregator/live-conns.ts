// The connections open now (docs/design.md, "Live connections"), one slot per (node, service, client ip:port) in
// parallel typed arrays behind the UDP flows' index, and the bytes they carry. Opened by `open` events (open when
// tracing began, or found by a sweep) and by `dnat` on a node whose helper reads its conntrack table; ended by `close`.
// Counters are cumulative per connection, so each `traffic` or `close` adds what moved since the last one.
import { ByteWindow } from './byte-window.js';
import type { ServiceRec, Services } from './services.js';
import { grown } from './typed.js';
import { UdpFlowIndex } from './udp-flow-index.js';

/**
 * `dnat`s of a node not yet known to read conntrack are remembered this long (and at most PENDING of them): the
 * helper's first events follow the BPF programs' attach, and a connection it saw announced by a `dnat` gets no `open`.
 */
const PENDING = 4096;
const PENDING_US = 30e6;
const NONE = -1;

export class LiveConns {
  readonly index = new UdpFlowIndex();
  size = 0;
  /** Slots below this have been used; `alive` says which hold a connection now. */
  top = 0;
  /** Connections not followed because `maxConns` were open. */
  dropped = 0;
  node = new Uint16Array(0);
  svc = new Int32Array(0);
  backend = new Int32Array(0);
  /** The client's key in ClientKeys (its IP), for per-client figures. */
  client = new Float64Array(0);
  /** When it began: the kernel's start, its `dnat`, else when it was first heard of (`startKnown` 0). */
  start = new Float64Array(0);
  startKnown = new Uint8Array(0);
  /** Last event that said it was open. */
  seen = new Float64Array(0);
  /** Bytes both ways at its last counters. */
  total = new Float64Array(0);
  alive = new Uint8Array(0);
  /** Nodes whose helper reads conntrack (they sent a connection or sweep event). */
  readonly sourced: boolean[] = [];
  /** Whether each node's last sweep carried byte counters (undefined before its first sweep). */
  readonly acct: (boolean | undefined)[] = [];
  readonly window: ByteWindow;
  /** Latest byte entry the window had to drop while still inside the window span. */
  truncatedAt = NaN;
  private readonly pTs = new Float64Array(PENDING);
  private readonly pNode = new Int32Array(PENDING);
  private readonly pSvc = new Int32Array(PENDING);
  private readonly pBackend = new Int32Array(PENDING);
  private readonly pClientKey = new Float64Array(PENDING);
  private readonly pClient: string[] = new Array(PENDING).fill('');
  private pNext = 0;

  constructor(
    private readonly services: Services,
    private readonly maxConns: number,
    maxWindowEntries: number,
  ) {
    this.window = new ByteWindow(maxWindowEntries);
  }

  /** A new connection was translated to backend `b`. */
  dnat(ts: number, node: number, svc: ServiceRec, client: string, clientKey: number, b: number): void {
    if (!this.sourced[node]) {
      const i = this.pNext;
      this.pNext = (i + 1) % PENDING;
      this.pTs[i] = ts;
      this.pNode[i] = node;
      this.pSvc[i] = svc.id;
      this.pBackend[i] = b;
      this.pClientKey[i] = clientKey;
      this.pClient[i] = client;
      return;
    }
    const p = this.index.find(node, svc.id, client);
    // A new entry for a tuple still open: the old one ended without a message reaching us.
    if (p !== NONE) this.finish(p);
    this.begin(ts, node, svc, client, clientKey, b, ts, true, 0);
  }

  /** Node `node` reads conntrack: from now on its `dnat`s open connections, the recent ones first. */
  source(node: number, now: number): void {
    if (this.sourced[node]) return;
    this.sourced[node] = true;
    for (let k = 0; k < PENDING; k++) {
      const i = (this.pNext + k) % PENDING;
      if (this.pNode[i] !== node || this.pClient[i] === '' || this.pTs[i]! < now - PENDING_US) continue;
      const svc = this.services.list[this.pSvc[i]!]!;
      this.dnat(this.pTs[i]!, node, svc, this.pClient[i]!, this.pClientKey[i]!, this.pBackend[i]!);
      this.pClient[i] = '';
    }
  }

  /**
   * An `open` or `traffic`: the connection is open now, with these counters (NaN: none). Opened here when unknown;
   * its counters then are a baseline (bytes carried before we heard of it are not counted).
   */
  opened(
    ts: number,
    node: number,
    svc: ServiceRec,
    client: string,
    clientKey: number,
    backend: string,
    start: number | undefined,
    total: number,
  ): void {
    const p = this.index.find(node, svc.id, client);
    if (p === NONE) {
      const b = svc.backendOf(backend);
      this.begin(ts, node, svc, client, clientKey, b, start ?? ts, start !== undefined, total);
      return;
    }
    this.seen[p] = ts;
    if (start !== undefined && !this.startKnown[p]) {
      this.start[p] = start;
      this.startKnown[p] = 1;
    }
    if (!Number.isNaN(total)) this.moved(p, ts, total);
  }

  /** A `close`: its final counters (NaN: none) count, then it is gone. An unknown connection is ignored. */
  closed(ts: number, node: number, svc: ServiceRec, client: string, total: number): void {
    const p = this.index.find(node, svc.id, client);
    if (p === NONE) return;
    if (!Number.isNaN(total)) this.moved(p, ts, total);
    this.finish(p);
  }

  /**
   * A `sweep` ended. After the dump at attach (`initial`), the node's connections no event of that dump confirmed are
   * gone: they belong to an earlier run of its helper whose closes never came.
   */
  swept(ts: number, node: number, initial: boolean, acct: boolean, micros: number): void {
    this.acct[node] = acct;
    if (!initial) return;
    const since = ts - micros - 1e6;
    for (let p = 0; p < this.top; p++) {
      if (this.alive[p] && this.node[p] === node && this.seen[p]! < since) this.finish(p);
    }
  }

  /** Lets byte entries older than `before` leave the window. */
  slide(before: number): void {
    const w = this.window;
    while (w.length > 0 && w.oldestTs() < before) this.leave();
  }

  private leave(): number {
    const w = this.window;
    const j = w.shift();
    this.services.list[w.svc[j]!]!.load.leaveWindow(w.backend[j]!, w.bytes[j]!);
    return j;
  }

  private begin(
    ts: number,
    node: number,
    svc: ServiceRec,
    client: string,
    clientKey: number,
    b: number,
    start: number,
    known: boolean,
    total: number,
  ): void {
    if (this.size >= this.maxConns) {
      this.dropped++;
      return;
    }
    const p = this.index.findOrAdd(node, svc.id, client);
    if (p >= this.node.length) this.grow(Math.max(1024, this.node.length * 2));
    if (p >= this.top) this.top = p + 1;
    this.size++;
    this.node[p] = node;
    this.svc[p] = svc.id;
    this.backend[p] = b;
    this.client[p] = clientKey;
    this.start[p] = start;
    this.startKnown[p] = known ? 1 : 0;
    this.seen[p] = ts;
    this.total[p] = Number.isNaN(total) ? 0 : total;
    this.alive[p] = 1;
    svc.load.addOpen(b, 1);
  }

  /** Counters `total` now: what moved since the last counters is carried at `ts`. */
  private moved(p: number, ts: number, total: number): void {
    this.seen[p] = ts;
    let d = total - this.total[p]!;
    // Counters below the last ones belong to a new entry of the same tuple: all of them are new.
    if (d < 0) d = total;
    this.total[p] = total;
    if (d === 0) return;
    const svc = this.svc[p]!;
    const b = this.backend[p]!;
    this.services.list[svc]!.load.addBytes(b, d);
    if (this.window.full) {
      const dropped = this.window.ts[this.leave()]!;
      if (!(dropped <= this.truncatedAt)) this.truncatedAt = dropped;
    }
    this.window.push(ts, svc, b, this.client[p]!, d);
  }

  private finish(p: number): void {
    this.alive[p] = 0;
    this.size--;
    this.services.list[this.svc[p]!]!.load.addOpen(this.backend[p]!, -1);
    this.index.remove(p);
  }

  private grow(n: number): void {
    this.node = grown(this.node, n);
    this.svc = grown(this.svc, n);
    this.backend = grown(this.backend, n);
    this.client = grown(this.client, n);
    this.start = grown(this.start, n);
    this.startKnown = grown(this.startKnown, n);
    this.seen = grown(this.seen, n);
    this.total = grown(this.total, n);
    this.alive = grown(this.alive, n);
  }
}
