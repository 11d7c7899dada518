// The agent: the probe's events, named from the node's rules, with the rules' catalog
// and xt_recent evictions mixed in, served over gRPC.
import { EventEmitter } from 'node:events';
import type { ServerCredentials } from '@grpc/grpc-js';
import type { CatalogEvent, ServiceInfo, StickyEvent } from '../core/event.js';
import { Enricher } from './enrich.js';
import { NodePortCatalog } from './node-ports.js';
import { NftSetWatcher } from './nft-sets.js';
import { RulesWatcher, nftListSets, nodeRules, type RulesReader } from './rules-watch.js';
import { getServer, type AgentServer, type EventSource } from './server.js';
import type { AgentLimits } from './limits.js';
import { EvictionWatcher } from './xt-recent.js';
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
  rulesIntervalMs?: number;
  recentIntervalMs?: number;
  readRules?: RulesReader;
  /** nftables mode: reads the affinity sets (default `nft -j list sets table ip kube-proxy` in the netns). */
  readSets?: () => Promise<string>;
  /** How often a summary goes to SubscribeSummaries subscribers (default 2000). */
  summaryPeriodMs?: number;
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

/** Runs `task` every `ms` until stopped, never two at once; its failures go to `onError`. */
function every(ms: number, task: () => Promise<void>, onError: (err: Error) => void): () => void {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const loop = async () => {
    try {
      await task();
    } catch (err) {
      onError(err as Error);
    }
    if (!stopped) timer = setTimeout(loop, ms);
  };
  timer = setTimeout(loop, ms);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

export async function startAgent(probe: EventSource, opts: AgentOptions): Promise<RunningAgent> {
  const hub = new EventEmitter();
  const nodePorts = new NodePortCatalog();
  const enricher = new Enricher(nodePorts);
  const now = () => Date.now() * 1000;
  let lastWarning = '';
  const warn = (err: Error) => {
    if (err.message === lastWarning) return;
    lastWarning = err.message;
    opts.onWarning?.(err.message);
  };

  const summaries = new SummaryFeed(opts.node, hub, opts.summaryPeriodMs);
  const server = getServer(hub, {
    summaries,
    node: opts.node,
    attachPoints: opts.attachPoints,
    limits: opts.limits,
    maxBuffered: opts.maxBuffered,
    credentials: opts.credentials,
  });
  const catalogAt = (ts: number, services: ServiceInfo[]): CatalogEvent => {
    const proxyMode = rules.current?.mode;
    return { type: 'catalog', ts, node: opts.node, services, ...(proxyMode ? { proxyMode } : {}) };
  };
  const publish = (ts: number) => {
    const services = nodePorts.services();
    enricher.setServices(services);
    hub.emit('events', [catalogAt(ts, services)]);
  };
  const rules = new RulesWatcher(opts.readRules ?? nodeRules(opts.netns), (catalog) => {
    nodePorts.setRules(catalog);
    publish(now());
  });
  // The first catalog goes out before any flow, so every flow can be named.
  await rules.poll().catch(warn);
  if (!rules.current) hub.emit('events', [{ type: 'catalog', ts: now(), node: opts.node, services: [] }]);

  const nftLists = () => (rules.current?.mode === 'nftables' ? rules.current.lists : new Map());
  const sets = new NftSetWatcher({
    node: opts.node,
    read: opts.readSets ?? nftListSets(opts.netns),
    lists: nftLists,
    emit: (events) => hub.emit('events', events),
  });

  const onProbe = (events: StickyEvent[]) => {
    const learnedAt = enricher.enrich(events);
    sets.observe(events);
    // A flow through a NodePort at a node address not seen before: the catalog entry for
    // it goes out first, timed as that flow, so the flow is judged by it.
    if (!Number.isNaN(learnedAt)) hub.emit('events', [catalogAt(learnedAt, nodePorts.services())]);
    hub.emit('events', events);
  };
  probe.on('events', onProbe);
  const stops = [every(opts.rulesIntervalMs ?? 1000, () => rules.poll(), warn)];
  const setsPoll = async () => {
    if (rules.current?.mode === 'nftables' && rules.current.lists.size > 0) await sets.poll();
  };
  stops.push(every(opts.recentIntervalMs ?? 250, setsPoll, warn));
  let recent: EvictionWatcher | undefined;
  if (opts.xtRecentDir) {
    const evictions = new EvictionWatcher({
      dir: opts.xtRecentDir,
      node: opts.node,
      lists: () => rules.current?.lists ?? new Map(),
      onEvicted: (e) => hub.emit('events', [e]),
    });
    stops.push(every(opts.recentIntervalMs ?? 250, () => evictions.poll(), warn));
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
