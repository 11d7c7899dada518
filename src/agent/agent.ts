// The agent: the probe's events, named from the node's rules (IPv4 and IPv6), with the rules' catalog
// and xt_recent evictions mixed in, served over gRPC.
import { EventEmitter } from 'node:events';
import type { ServerCredentials } from '@grpc/grpc-js';
import type { CatalogEvent, ServiceInfo, StickyEvent } from '../core/event.js';
import { Enricher } from './enrich.js';
import { NodePortCatalog } from './node-ports.js';
import { NftSetWatcher } from './nft-sets.js';
import { every } from './periodic.js';
import { RulesReadMarks } from './rules-marks.js';
import { monitorSeesChanges, RulesSchedule } from './rules-schedule.js';
import { RulesWatcher, nftListSets, nodeRules, type RulesReader } from './rules-watch.js';
import { getServer, type AgentServer, type EventSource } from './server.js';
import type { AgentLimits } from './limits.js';
import { EvictionWatcher } from './xt-recent.js';
import { mergeFamilies } from './families.js';
import type { NatCatalog, RecentList } from './rules-parse.js';
import { SummaryFeed } from './summary-feed.js';
import type { Summarizer } from '../aggregator/summarize.js';

export interface AgentOptions {
  node: string;
  listen: string;
  /** TLS for the gRPC port (src/protocol/tls.ts); plaintext when absent. */
  credentials?: ServerCredentials;
  /** The node's network namespace (for iptables-save); the current one when absent. */
  netns?: string;
  /** The node's /proc/<pid>/net/xt_recent; not watched when absent. */
  xtRecentDir?: string;
  attachPoints?: string[];
  /** What one client may cost the agent (src/agent/limits.ts). */
  limits?: Partial<AgentLimits>;
  maxBuffered?: number;
  /** Polling period of the rules where changes are not announced (iptables-legacy, no nft; default 1000). */
  rulesIntervalMs?: number;
  /** Shortest period of the xt_recent and affinity-set reads (default 250; longer when a read costs more). */
  recentIntervalMs?: number;
  /** Learn of rule changes from `nft monitor` where it sees them (default: unless readRules is given). */
  watchRules?: boolean;
  readRules?: RulesReader;
  /** The IPv6 rules (default `ip6tables-save -t nat`, else `nft -j list table ip6 kube-proxy`, in the netns). */
  readRules6?: RulesReader;
  /** nftables mode: reads the affinity sets (default `nft -j list sets table ip kube-proxy` in the netns). */
  readSets?: () => Promise<string>;
  /** The same for the IPv6 table (`... table ip6 kube-proxy`). */
  readSets6?: () => Promise<string>;
  /** How often a summary goes to SubscribeSummaries subscribers (default 2000). */
  summaryPeriodMs?: number;
  /**
   * Run the node's reducer from the start (its summable metrics need it: `agent --metrics`). Otherwise (default) it
   * starts with the first SubscribeSummaries subscriber, and an agent nobody asks for summaries does not pay for it.
   */
  summarizeFromStart?: boolean;
  /** Problems that do not stop the agent (rules unreadable): said once until they change. */
  onWarning?: (message: string) => void;
}

export interface RunningAgent {
  /** The bound "host:port". */
  address: string;
  server: AgentServer;
  /** The xt_recent reader, when the lists are watched (their fill level is a metric). */
  recent?: EvictionWatcher;
  /** The node's own reducer (its counts are the summaries and the summable metrics). */
  summarizer: Summarizer;
  /** Stops the watchers, ends every stream after what is queued for it, shuts the server down. */
  stop(): Promise<void>;
}

export async function startAgent(probe: EventSource, opts: AgentOptions): Promise<RunningAgent> {
  const hub = new EventEmitter();
  const nodePorts = new NodePortCatalog();
  const enricher = new Enricher(nodePorts);
  const now = () => Date.now() * 1000;
  /** One per task that can fail, so two tasks failing in turn do not repeat each other's warnings. */
  const warner = () => {
    let lastWarning = '';
    return (err: Error) => {
      if (err.message === lastWarning) return;
      lastWarning = err.message;
      opts.onWarning?.(err.message);
    };
  };
  const warn = warner();
  const warn6 = warner();

  const summaries = new SummaryFeed(opts.node, hub, opts.summaryPeriodMs);
  if (opts.summarizeFromStart) summaries.start();
  const server = getServer(hub, {
    summaries,
    node: opts.node,
    attachPoints: opts.attachPoints,
    limits: opts.limits,
    maxBuffered: opts.maxBuffered,
    credentials: opts.credentials,
  });
  const catalogAt = (ts: number, services: ServiceInfo[]): CatalogEvent => {
    const proxyMode = current()?.mode;
    return { type: 'catalog', ts, node: opts.node, services, ...(proxyMode ? { proxyMode } : {}) };
  };
  const publish = (ts: number) => {
    const services = nodePorts.services();
    enricher.setServices(services);
    hub.emit('events', [catalogAt(ts, services)]);
  };
  // Each family's rules are read and kept on their own: a bad IPv6 read keeps the previous IPv6 catalog and leaves
  // the IPv4 one alone. Until both first reads are done, nothing is published.
  let started = false;
  let merged: NatCatalog | null = null;
  const current = () => merged;
  // Watermarks follow the catalog they vouch for: a verdict waits for them (src/aggregator/pending-verdicts.ts).
  const marks = new RulesReadMarks(2, (readAt) =>
    hub.emit('events', [{ type: 'rulesRead', ts: Math.max(now(), readAt), node: opts.node, readAt }]),
  );
  const changed = () => {
    merged = mergeFamilies(rules.current, rules6.current);
    if (!started || !merged) return;
    nodePorts.setRules(merged);
    publish(now());
    marks.changed();
  };
  const rules = new RulesWatcher(opts.readRules ?? nodeRules(opts.netns), changed);
  // A caller that reads the IPv4 rules its own way (a test, a replay) says where IPv6 rules come from, or has none.
  const read6 = opts.readRules6 ?? (opts.readRules ? async () => '' : nodeRules(opts.netns, 6));
  const rules6 = new RulesWatcher(read6, changed, 'IPv6 rules');
  // The first catalog goes out before any flow, so every flow can be named.
  await rules.poll().catch(warn);
  await rules6.poll().catch(warn6);
  started = true;
  if (merged) changed();
  else hub.emit('events', [{ type: 'catalog', ts: now(), node: opts.node, services: [] }]);
  const readBoth = () => {
    marks.read(0, rules.readAt);
    marks.read(1, rules6.readAt);
  };
  readBoth();

  const noLists = new Map<string, RecentList>();
  const nftLists = (c: NatCatalog | null) => (c?.mode === 'nftables' ? c.lists : noLists);
  // The set watcher rebuilds its index when the lists object changes: one object per pair of catalogs.
  let listsOf: [NatCatalog | null, NatCatalog | null, ReadonlyMap<string, RecentList>] = [null, null, noLists];
  const bothLists = () => {
    if (listsOf[0] !== rules.current || listsOf[1] !== rules6.current)
      listsOf = [rules.current, rules6.current, new Map([...nftLists(rules.current), ...nftLists(rules6.current)])];
    return listsOf[2];
  };
  const readSets = opts.readSets ?? nftListSets(opts.netns);
  const readSets6 = opts.readSets6 ?? nftListSets(opts.netns, 'ip6');
  const sets = new NftSetWatcher({
    node: opts.node,
    // Only the tables whose Services have affinity sets: an IPv4-only node has no `ip6 kube-proxy` to list.
    read: async () => [
      ...(nftLists(rules.current).size > 0 ? [await readSets()] : []),
      ...(nftLists(rules6.current).size > 0 ? [await readSets6()] : []),
    ],
    lists: bothLists,
    emit: (events) => hub.emit('events', events),
  });

  // The probe's periodic counters alone ask for no watermark and no list read: only a batch with a flow in it does
  // (its first or last event, so a flow costs nothing here).
  let lastFlowAt = 0;
  const onProbe = (events: StickyEvent[]) => {
    const last = events[events.length - 1];
    if (last && (last.type !== 'counters' || events[0]!.type !== 'counters')) {
      marks.sawEvents(last.ts);
      lastFlowAt = Date.now();
    }
    const learnedAt = enricher.enrich(events);
    sets.observe(events);
    // A flow through a NodePort at a node address not seen before: the catalog entry for
    // it goes out first, timed as that flow, so the flow is judged by it.
    if (!Number.isNaN(learnedAt)) hub.emit('events', [catalogAt(learnedAt, nodePorts.services())]);
    hub.emit('events', events);
  };
  probe.on('events', onProbe);
  const watch = (opts.watchRules ?? !opts.readRules) && (await monitorSeesChanges(current()?.mode));
  const monitorWarn = warner();
  const schedule = new RulesSchedule({
    read: async () => {
      await rules.poll().catch(warn);
      await rules6.poll().catch(warn6);
      readBoth();
    },
    unchangedAt: (at) => {
      if (!rules.failing) marks.read(0, at);
      if (!rules6.failing) marks.read(1, at);
    },
    wanted: () => marks.wanted(),
    monitor: watch ? { netns: opts.netns, onWarning: (m) => monitorWarn(new Error(m)) } : null,
    pollMs: opts.rulesIntervalMs ?? 1000,
  });
  const stops = [() => schedule.stop()];
  // A list or set changes only when a new connection is pinned: read them after flows, at most 1/20 of the time.
  let listsReadAt = 0;
  const listsWanted = () => lastFlowAt >= listsReadAt;
  const listsPeriod = { ms: opts.recentIntervalMs ?? 250, costFactor: 20 };
  const setsPoll = async () => {
    listsReadAt = Date.now();
    if (nftLists(rules.current).size > 0 || nftLists(rules6.current).size > 0) await sets.poll();
  };
  stops.push(every({ ...listsPeriod, when: () => sets.waiting > 0 || listsWanted() }, setsPoll, warner()));
  let recent: EvictionWatcher | undefined;
  if (opts.xtRecentDir) {
    const evictions = new EvictionWatcher({
      dir: opts.xtRecentDir,
      node: opts.node,
      // ip6tables' lists are in the same directory, holding IPv6 clients.
      lists: () => current()?.lists ?? new Map(),
      onEvicted: (e) => hub.emit('events', [e]),
    });
    let recentReadAt = 0;
    const recentPoll = () => {
      recentReadAt = Date.now();
      return evictions.poll();
    };
    stops.push(every({ ...listsPeriod, when: () => lastFlowAt >= recentReadAt }, recentPoll, warner()));
    recent = evictions;
  }

  let address: string;
  try {
    address = await server.bind(opts.listen);
  } catch (err) {
    for (const s of stops) s();
    probe.off('events', onProbe);
    summaries.stop();
    await server.close();
    throw err;
  }
  return {
    address,
    server,
    recent,
    summarizer: summaries.summarizer,
    async stop() {
      for (const s of stops) s();
      probe.off('events', onProbe);
      summaries.stop();
      await server.close();
    },
  };
}
