// The one hash index of the aggregator's per-flow tables: (node, service, client) numeric keys to dense slot
// numbers, by open addressing with backward-shift deletion (no tombstones), the slots threaded least-recently-active
// first for expiry, freed slots reused. PairTable and UdpFlowIndex each hold one and keep their own columns at the
// same slot numbers: held, not inherited, since one base class for both made their hot property accesses
// polymorphic and cost 20-35% of the aggregator's events/s (measured side by side).
import { bytesOf, grown } from './typed.js';

const NONE = -1;

export class SlotIndex {
  size = 0;
  /** Least recently active slot, first to expire or be evicted. */
  oldest = NONE;
  private newest = NONE;
  node = new Int32Array(0);
  svc = new Int32Array(0);
  /** A number that says the client: an interned id, or an address and port packed below 2^53. */
  client = new Float64Array(0);
  /** Links of the activity list; `newer` also chains free slots. */
  private older = new Int32Array(0);
  private newer = new Int32Array(0);
  private slots = new Int32Array(16);
  private mask = 15;
  private used = 0;
  private free = NONE;

  /** How many slot numbers exist: the holder's columns need this length. */
  get capacity(): number {
    return this.node.length;
  }

  find(node: number, svc: number, client: number): number {
    const slots = this.slots;
    for (let i = hash(node, svc, client) & this.mask; ; i = (i + 1) & this.mask) {
      const s = slots[i]!;
      if (s === 0) return NONE;
      const p = s - 1;
      if (this.client[p] === client && this.svc[p] === svc && this.node[p] === node) return p;
    }
  }

  /** Adds a key known to be absent; its slot becomes the newest. */
  insert(node: number, svc: number, client: number): number {
    const p = this.allocate();
    this.node[p] = node;
    this.svc[p] = svc;
    this.client[p] = client;
    if (++this.size * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    this.place(p);
    this.linkNewest(p);
    return p;
  }

  /** Marks the slot as the most recently active. */
  touch(p: number): void {
    if (this.newest === p) return;
    this.unlink(p);
    this.linkNewest(p);
  }

  remove(p: number): void {
    this.unslot(p);
    this.unlink(p);
    this.newer[p] = this.free;
    this.free = p;
    this.size--;
  }

  /** Slots from most to least recently active. */
  *newestFirst(): Generator<number> {
    for (let p = this.newest; p !== NONE; p = this.older[p]!) yield p;
  }

  /** Live slots in table order (cheaper than newestFirst when order does not matter). */
  *all(): Generator<number> {
    for (let i = 0; i < this.slots.length; i++) if (this.slots[i] !== 0) yield this.slots[i]! - 1;
  }

  bytes(): number {
    return bytesOf([this.node, this.svc, this.client, this.older, this.newer, this.slots]);
  }

  private allocate(): number {
    if (this.free !== NONE) {
      const p = this.free;
      this.free = this.newer[p]!;
      return p;
    }
    if (this.used === this.node.length) {
      const n = Math.max(1024, this.used * 2);
      this.node = grown(this.node, n);
      this.svc = grown(this.svc, n);
      this.client = grown(this.client, n);
      this.older = grown(this.older, n);
      this.newer = grown(this.newer, n);
    }
    return this.used++;
  }

  private home(p: number): number {
    return hash(this.node[p]!, this.svc[p]!, this.client[p]!) & this.mask;
  }

  private place(p: number): void {
    let i = this.home(p);
    while (this.slots[i] !== 0) i = (i + 1) & this.mask;
    this.slots[i] = p + 1;
  }

  private rehash(length: number): void {
    const old = this.slots;
    this.slots = new Int32Array(length);
    this.mask = length - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== 0) this.place(old[i]! - 1);
  }

  /** Linear-probing deletion by backward shift, so lookups need no tombstones. */
  private unslot(p: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = this.home(p);
    while (slots[i] !== p + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const k = this.home(slots[j]! - 1);
      // Move j back into the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!stays) {
        slots[i] = slots[j]!;
        i = j;
      }
    }
    slots[i] = 0;
  }

  private linkNewest(p: number): void {
    this.older[p] = this.newest;
    this.newer[p] = NONE;
    if (this.newest !== NONE) this.newer[this.newest] = p;
    else this.oldest = p;
    this.newest = p;
  }

  private unlink(p: number): void {
    const o = this.older[p]!;
    const n = this.newer[p]!;
    if (o !== NONE) this.newer[o] = n;
    else this.oldest = n;
    if (n !== NONE) this.older[n] = o;
    else this.newest = o;
  }
}

function hash(node: number, svc: number, client: number): number {
  const lo = client >>> 0;
  const hi = (client / 4294967296) | 0;
  let h = Math.imul(lo, 0x9e3779b1) ^ Math.imul(svc + 1, 0x85ebca6b) ^ Math.imul(node + (hi << 16) + 1, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}
