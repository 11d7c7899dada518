// Watches the xt_recent lists behind ClientIP affinity. A list holds at most ip_list_tot addresses; when it is full the
// kernel drops its least recently seen entry to make room, and that client loses its affinity early. An entry that
// vanishes from a full list before its timeout is reported as an `evicted` event.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvictedEvent } from '../core/event.js';
import { canonicalIp } from '../core/ip.js';
import type { RecentList } from '../kube-proxy/iptables-parse.js';

export interface RecentEntry {
  client: string;
  /** Jiffies of the entry's last refresh: it changes whenever the client is seen again. */
  lastSeen: number;
}

/** One /proc/net/xt_recent/<list> file: "src=10.0.1.2 ttl: 64 last_seen: 4295122898 oldest_pkt: 2 ...". */
export function parseRecentList(text: string): RecentEntry[] {
  const out: RecentEntry[] = [];
  for (const line of text.split('\n')) {
    // Jiffies are a u64: at most 20 digits (more would read as Infinity, which no later value differs from).
    const m = /^src=(\S+) .*last_seen: (\d{1,20})\b/.exec(line);
    // IPv6 entries come with every group written out in full; flows carry RFC 5952's form.
    if (m) out.push({ client: canonicalIp(m[1]!), lastSeen: Number(m[2]) });
  }
  return out;
}

export const ipListTotPath = '/sys/module/xt_recent/parameters/ip_list_tot';

export interface EvictionWatcherOptions {
  /** The node's xt_recent directory: /proc/<pid of a process in the node netns>/net/xt_recent. */
  dir: string;
  node: string;
  /** The lists the rules name, with their endpoints and timeouts. */
  lists: () => ReadonlyMap<string, RecentList>;
  onEvicted: (e: EvictedEvent) => void;
  capacityPath?: string;
  nowMs?: () => number;
}

interface Seen {
  lastSeen: number;
  /** A poll time before the entry's latest refresh, or null when it was already there at the first look. */
  refreshedAfter: number | null;
}

interface ListState {
  entries: Map<string, Seen>;
  count: number;
}

export class EvictionWatcher {
  private readonly state = new Map<string, ListState>();
  private capacity: number | null = null;
  private lastPoll: number | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: EvictionWatcherOptions) {
    this.now = opts.nowMs ?? Date.now;
  }

  /** Entries in each list the rules name, at the last read, with ip_list_tot (null until read). */
  fill(): { lists: { list: string; endpoint: string; entries: number }[]; capacity: number | null } {
    const known = this.opts.lists();
    const lists = [...this.state]
      .filter(([name]) => known.has(name))
      .map(([name, st]) => ({ list: name, endpoint: known.get(name)!.endpoint, entries: st.count }));
    return { lists, capacity: this.capacity };
  }

  async poll(): Promise<void> {
    const now = this.now();
    const since = this.lastPoll;
    this.lastPoll = now;
    this.capacity ??= await readCapacity(this.opts.capacityPath ?? ipListTotPath);
    const lists = this.opts.lists();
    const names = (await readdir(this.opts.dir).catch(() => [] as string[])).filter((n) => lists.has(n));
    const read = new Map<string, RecentEntry[]>();
    for (const name of names) {
      const text = await readFile(join(this.opts.dir, name), 'utf8').catch(() => null);
      if (text !== null) read.set(name, parseRecentList(text));
    }
    // An entry missing now was there during the previous read, which began at `since`,
    // and went before this read ended: the eviction lies in (since, done].
    const done = this.now();
    for (const [name, entries] of read) this.compare(name, entries, lists.get(name)!, now, since, done);
    for (const name of this.state.keys()) if (!read.has(name)) this.state.delete(name);
  }

  private compare(
    name: string,
    entries: RecentEntry[],
    list: RecentList,
    now: number,
    since: number | null,
    done: number,
  ): void {
    const prev = this.state.get(name);
    const cur = new Map<string, Seen>();
    for (const e of entries) {
      const p = prev?.entries.get(e.client);
      const refreshedAfter = p && p.lastSeen === e.lastSeen ? p.refreshedAfter : prev ? since : null;
      cur.set(e.client, { lastSeen: e.lastSeen, refreshedAfter });
    }
    this.state.set(name, { entries: cur, count: entries.length });
    const cap = this.capacity;
    if (!prev || since === null || cap === null || list.timeoutSeconds === null) return;
    if (prev.count < cap && entries.length < cap) return;
    for (const [client, p] of prev.entries) {
      if (cur.has(client) || p.refreshedAfter === null) continue;
      // The refresh came after `refreshedAfter`, so the entry was younger than this when it went.
      if (now - p.refreshedAfter >= list.timeoutSeconds * 1000) continue;
      this.opts.onEvicted({
        type: 'evicted',
        ts: done * 1000,
        since: since * 1000,
        node: this.opts.node,
        list: name,
        endpoint: list.endpoint,
        client,
        capacity: cap,
      });
    }
  }
}

async function readCapacity(path: string): Promise<number | null> {
  const text = await readFile(path, 'utf8').catch(() => null);
  const n = text === null ? NaN : Number(text.trim());
  return Number.isInteger(n) && n > 0 ? n : null;
}
