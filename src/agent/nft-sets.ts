// Watches kube-proxy's nftables affinity sets (`nft -j list sets table ip kube-proxy`, and `ip6`): their fill, and clients a full
// set did not pin. A set evicts nothing when full: the endpoint chain's `update @set { ip saddr }` silently fails, so a
// client sent to that endpoint is simply not pinned and may be sent elsewhere next time, within its timeout.
import type { AffinitySetFill, AffinitySetsEvent, EvictedEvent, StickyEvent } from '../core/event.js';
import { hostOf } from '../core/event.js';
import { canonicalIp } from '../core/ip.js';
import { NftParseError } from '../kube-proxy/nft-parse.js';
import type { RecentList } from '../kube-proxy/iptables-parse.js';

export interface SetContents {
  size: number | null;
  /** Client addresses in the set. */
  clients: Set<string>;
}

/** `nft -j list sets` output: each set's size and element values. */
export function parseNftSets(text: string): Map<string, SetContents> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new NftParseError(`nftables sets not understood: output is not JSON (${(err as Error).message})`);
  }
  const items = (doc as { nftables?: unknown }).nftables;
  if (!Array.isArray(items)) throw new NftParseError('nftables sets not understood: no "nftables" array');
  const out = new Map<string, SetContents>();
  for (const item of items) {
    // Anything but a set (another object, a bare value) is not what this read is for: skipped.
    const set = (item as { set?: { name?: unknown; size?: unknown; elem?: unknown } } | null)?.set;
    if (typeof set !== 'object' || set === null || typeof set.name !== 'string') continue;
    const clients = new Set<string>();
    for (const el of Array.isArray(set.elem) ? set.elem : []) {
      // With a timeout each element is {"elem": {"val": ..., "expires": ...}}; without, the bare value.
      const v =
        typeof el === 'object' && el !== null && 'elem' in el
          ? (el as { elem: { val?: unknown } | null }).elem?.val
          : el;
      if (typeof v === 'string') clients.add(canonicalIp(v));
    }
    out.set(set.name, { size: typeof set.size === 'number' ? set.size : null, clients });
  }
  return out;
}

interface Pick {
  client: string;
  list: string;
  /** Selection time, microseconds. */
  ts: number;
}

export interface NftSetWatcherOptions {
  node: string;
  /** `nft -j list sets` output, one per table read (`ip kube-proxy`, `ip6 kube-proxy`). */
  read: () => Promise<string | string[]>;
  /** The affinity sets the table names, with endpoints, Services, timeouts and sizes (the catalog's `lists`). */
  lists: () => ReadonlyMap<string, RecentList>;
  emit: (events: StickyEvent[]) => void;
  nowMs?: () => number;
  /** Selections waiting for a read, at most (the oldest go first). */
  maxPending?: number;
}

/**
 * A pick can have gone unpinned only in a set that may be full: with room left for every pick since the last read, no
 * read is needed to know it was pinned (sets hold 65,535 clients by default, so on most nodes no pick waits and the
 * sets are read only for their fill, FILL_MS apart).
 */
export const FILL_MS = 5000;

export class NftSetWatcher {
  private pending: Pick[] = [];
  /** Each set's fill at the last read, and picks into it since: a set absent here was never read. */
  private room = new Map<string, { free: number; picks: number }>();
  private lastFill = '';
  private readonly now: () => number;
  /** Set name by "service|endpoint", rebuilt when the lists change. */
  private bySelection = new Map<string, string>();
  private listsSeen: ReadonlyMap<string, RecentList> | null = null;

  constructor(private readonly opts: NftSetWatcherOptions) {
    this.now = opts.nowMs ?? Date.now;
  }

  /** Selections waiting for a read to check them. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Notes each selection of an affinity endpoint, to check at the next read that its client is in the set. */
  observe(events: readonly StickyEvent[]): void {
    const lists = this.opts.lists();
    if (lists !== this.listsSeen) {
      this.listsSeen = lists;
      this.bySelection = new Map([...lists].map(([name, l]) => [`${l.service}|${l.endpoint}`, name]));
    }
    if (this.bySelection.size === 0) return;
    for (const e of events) {
      if (e.type !== 'dnat') continue;
      const list = this.bySelection.get(`${e.service}/${e.proto}|${e.backend}`);
      if (list === undefined) continue;
      const room = this.room.get(list);
      if (room && ++room.picks < room.free) continue;
      this.pending.push({ client: hostOf(e.client), list, ts: e.ts });
    }
    const max = this.opts.maxPending ?? 100_000;
    if (this.pending.length > max) this.pending = this.pending.slice(this.pending.length - max);
  }

  async poll(): Promise<void> {
    const started = this.now() * 1000;
    const roomBefore = this.room;
    const picksBefore = new Map([...roomBefore].map(([name, r]) => [name, r.picks]));
    const read = await this.opts.read();
    const sets = new Map<string, SetContents>();
    for (const text of typeof read === 'string' ? [read] : read)
      for (const [k, v] of parseNftSets(text)) sets.set(k, v);
    const done = this.now() * 1000;
    const lists = this.opts.lists();
    const out: StickyEvent[] = [];
    // The set was updated before the DNAT the probe saw: a selection seen before this read began must show.
    const ready = this.pending.filter((p) => p.ts <= started);
    this.pending = this.pending.filter((p) => p.ts > started);
    const told = new Set<string>();
    for (const p of ready) {
      const list = lists.get(p.list);
      const set = sets.get(p.list);
      if (!list || !set || set.clients.has(p.client)) continue;
      const size = set.size ?? list.size ?? null;
      // Not in a set that is full now, within the timeout of that selection: the update had no room.
      if (size === null || set.clients.size < size) continue;
      if (list.timeoutSeconds !== null && done - p.ts >= list.timeoutSeconds * 1e6) continue;
      const key = `${p.list}|${p.client}`;
      if (told.has(key)) continue;
      told.add(key);
      const ev: EvictedEvent = {
        type: 'evicted',
        ts: done,
        since: p.ts,
        node: this.opts.node,
        list: p.list,
        endpoint: list.endpoint,
        client: p.client,
        capacity: size,
        cause: 'setFull',
      };
      out.push(ev);
    }
    const fill: AffinitySetFill[] = [];
    // Picks made while this read ran may be in it or not: counted against the new room all the same (a set's room
    // counts every pick into it, waiting or let through; a set never read before has only its waiting ones).
    const inFlight = new Map<string, number>();
    for (const p of this.pending) if (!roomBefore.has(p.list)) inFlight.set(p.list, (inFlight.get(p.list) ?? 0) + 1);
    for (const [name, r] of roomBefore)
      inFlight.set(name, (inFlight.get(name) ?? 0) + r.picks - (picksBefore.get(name) ?? 0));
    this.room = new Map();
    for (const [name, list] of lists) {
      const set = sets.get(name);
      if (!set || list.service === null) continue;
      const size = set.size ?? list.size;
      if (size === undefined) continue;
      fill.push({ set: name, service: list.service, endpoint: list.endpoint, elements: set.clients.size, size });
      this.room.set(name, { free: size - set.clients.size, picks: inFlight.get(name) ?? 0 });
    }
    const key = JSON.stringify(fill);
    if (key !== this.lastFill) {
      this.lastFill = key;
      const ev: AffinitySetsEvent = { type: 'affinitySets', ts: done, node: this.opts.node, sets: fill };
      out.push(ev);
    }
    if (out.length > 0) this.opts.emit(out);
  }
}
