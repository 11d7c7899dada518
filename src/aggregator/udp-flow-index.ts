// The UDP flows' index: (node, service, client ip:port) to a slot, by open addressing over numeric keys, with the
// slots threaded least-recently-active first for expiry. Repeats PairTable's index code on purpose (see the class).
import { grown } from './typed.js';

const NONE = -1;
const TWO32 = 4294967296;

/**
 * A Map keyed by a string built per event cost a string, its hash and, since V8 leaves a hole per delete that
 * iteration from the start must skip, ever slower expiry. The probing, deletion and activity-list code repeats
 * PairTable's on purpose: one base class for both made their hot property accesses polymorphic and cost 20-35% of
 * the aggregator's events/s (measured side by side); change both together.
 */
export class UdpFlowIndex {
  size = 0;
  /** Whether the last findOrAdd() added the flow. */
  added = false;
  /** Least recently active slot, first to expire. */
  oldest = NONE;
  private newest = NONE;
  private node = new Int32Array(0);
  private svc = new Int32Array(0);
  /** A canonical "a.b.c.d:port" client as ip * 65536 + port, else 2^48 + its interned id. */
  private client = new Float64Array(0);
  private older = new Int32Array(0);
  private newer = new Int32Array(0);
  private slots = new Int32Array(16);
  private mask = 15;
  private used = 0;
  private free = NONE;
  /** Clients that are not canonical IPv4 ip:port, with how many live slots use each. */
  private readonly otherIds = new Map<string, number>();
  private otherRefs: number[] = [];
  private otherNames: string[] = [];
  private otherFree: number[] = [];

  /** The slot of a flow, or -1. */
  find(node: number, svc: number, client: string): number {
    const c = this.keyOf(client, false);
    return c < 0 ? NONE : this.findKey(node, svc, c);
  }

  /** The slot of a flow, added as the newest when absent; `added` says which. */
  findOrAdd(node: number, svc: number, client: string): number {
    const c = this.keyOf(client, true);
    const p = this.findKey(node, svc, c);
    if (p !== NONE) {
      this.added = false;
      return p;
    }
    this.added = true;
    const q = this.allocate();
    this.node[q] = node;
    this.svc[q] = svc;
    this.client[q] = c;
    if (c >= 2 ** 48) this.otherRefs[c - 2 ** 48]!++;
    if (++this.size * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    this.place(q);
    this.linkNewest(q);
    return q;
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
    const c = this.client[p]!;
    if (c >= 2 ** 48) this.release(c - 2 ** 48);
    this.newer[p] = this.free;
    this.free = p;
    this.size--;
  }

  private keyOf(addr: string, intern: boolean): number {
    const v = canonicalV4(addr);
    if (v >= 0) return v;
    let id = this.otherIds.get(addr);
    if (id === undefined) {
      if (!intern) return NONE;
      id = this.otherFree.length > 0 ? this.otherFree.pop()! : this.otherRefs.length;
      this.otherRefs[id] = 0;
      this.otherNames[id] = addr;
      this.otherIds.set(addr, id);
    }
    return 2 ** 48 + id;
  }

  private release(id: number): void {
    if (--this.otherRefs[id]! > 0) return;
    this.otherIds.delete(this.otherNames[id]!);
    this.otherNames[id] = '';
    this.otherFree.push(id);
  }

  private findKey(node: number, svc: number, c: number): number {
    const slots = this.slots;
    for (let i = hash(node, svc, c) & this.mask; ; i = (i + 1) & this.mask) {
      const s = slots[i]!;
      if (s === 0) return NONE;
      const p = s - 1;
      if (this.client[p] === c && this.svc[p] === svc && this.node[p] === node) return p;
    }
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

/**
 * "a.b.c.d:port" written the one canonical way (no leading zeros, port 0-65535) as
 * ip * 65536 + port; -1 for anything else, so two different strings never share a key.
 */
function canonicalV4(addr: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  let lead = false;
  const n = addr.length;
  for (let i = 0; i < n; i++) {
    const ch = addr.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      if (lead) return NONE;
      if (digits === 0 && ch === 48) lead = true;
      part = part * 10 + (ch - 48);
      digits++;
      if (dots < 4 ? part > 255 : part > 65535) return NONE;
    } else if ((ch === 46 && dots < 3) || (ch === 58 && dots === 3)) {
      if (digits === 0) return NONE;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      lead = false;
      dots++;
    } else return NONE;
  }
  if (dots !== 4 || digits === 0) return NONE;
  return value * 65536 + part;
}

function hash(node: number, svc: number, c: number): number {
  const lo = c >>> 0;
  const hi = (c / TWO32) | 0;
  let h = Math.imul(lo, 0x9e3779b1) ^ Math.imul(svc + 1, 0x85ebca6b) ^ Math.imul(node + (hi << 16) + 1, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}
