// The UDP flows' index: (node, service, client ip:port) to a slot of a SlotIndex, the client made a number: a
// canonical IPv4 ip:port packed, anything else interned.
import { SlotIndex } from './slot-index.js';

const NONE = -1;
/** Client keys from here up are interned ids (packed IPv4 ip:port stay below 2^48). */
const INTERNED = 2 ** 48;

/**
 * A Map keyed by a string built per event cost a string, its hash and, since V8 leaves a hole per delete that
 * iteration from the start must skip, ever slower expiry.
 */
export class UdpFlowIndex {
  /** Whether the last findOrAdd() added the flow. */
  added = false;
  private readonly keys = new SlotIndex();
  /** Clients that are not canonical IPv4 ip:port, with how many live slots use each. */
  private readonly otherIds = new Map<string, number>();
  private otherRefs: number[] = [];
  private otherNames: string[] = [];
  private otherFree: number[] = [];

  get size(): number {
    return this.keys.size;
  }
  /** Least recently active slot, first to expire. */
  get oldest(): number {
    return this.keys.oldest;
  }

  /** The slot of a flow, or -1. */
  find(node: number, svc: number, client: string): number {
    const c = this.keyOf(client, false);
    return c < 0 ? NONE : this.keys.find(node, svc, c);
  }

  /** The slot of a flow, added as the newest when absent; `added` says which. */
  findOrAdd(node: number, svc: number, client: string): number {
    const c = this.keyOf(client, true);
    const p = this.keys.find(node, svc, c);
    if (p !== NONE) {
      this.added = false;
      return p;
    }
    this.added = true;
    if (c >= INTERNED) this.otherRefs[c - INTERNED]!++;
    return this.keys.insert(node, svc, c);
  }

  /** Marks the slot as the most recently active. */
  touch(p: number): void {
    this.keys.touch(p);
  }

  remove(p: number): void {
    const c = this.keys.client[p]!;
    this.keys.remove(p);
    if (c >= INTERNED) this.release(c - INTERNED);
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
    return INTERNED + id;
  }

  private release(id: number): void {
    if (--this.otherRefs[id]! > 0) return;
    this.otherIds.delete(this.otherNames[id]!);
    this.otherNames[id] = '';
    this.otherFree.push(id);
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
