// The agent: the probe's events, named from the node's rules (IPv4 and IPv6), with the rules' catalog
// and xt_recent evictions mixed in, served over gRPC. A list of stages (src/core/stages.ts) around
// one stream, the named events, that the summaries and the server read.
import { EventEmitter } from 'node:events';
import type { ServerCredentials } from '@grpc/grpc-js';
import type { EventSource, StickyEvent } from '../core/event.js';
import { startStages, type Stage } from '../core/stages.js';
import { SummaryFeed, type Summarizer } from '../summary/producer.js';
import type { AgentLimits } from './limits.js';
import { Poller } from './poller.js';
import { NodeRules } from './node-rules.js';
import type { RulesReader } from './rules-watch.js';
import { createAgentServer, type AgentServer } from './server.js';
import { EvictionWatcher } from './xt-recent.js';

export interface AgentOptions {
  node: string;
  listen: string;
  /** TLS for the gRPC port (src/protocol/tls.ts); plaintext when absent. */
  credentials?: ServerCredentials;
  /** The node's network namespace (for iptables-save); the current one when absent. */
  netns?: string;
  /** `--pods FILE`: pod names by backend address (pod-names.ts), re-read when it changes. */
  podsFile?: string;
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
  const stream = new EventEmitter();
  const emit = (events: StickyEvent[]) => stream.emit('events', events);
  const summaries = new SummaryFeed(opts.node, null, opts.summaryPeriodMs);
  if (opts.summarizeFromStart) summaries.start();
  const server = createAgentServer({
    summaries,
    node: opts.node,
    attachPoints: opts.attachPoints,
    limits: opts.limits,
    maxBuffered: opts.maxBuffered,
    credentials: opts.credentials,
  });
  const rules = new NodeRules({ ...opts, setsIntervalMs: opts.recentIntervalMs, emit });
  const recent = opts.xtRecentDir
    ? new EvictionWatcher({
        dir: opts.xtRecentDir,
        node: opts.node,
        // ip6tables' lists are in the same directory, holding IPv6 clients.
        lists: () => rules.catalog?.lists ?? new Map(),
        onEvicted: (e) => emit([e]),
      })
    : undefined;
  // The lists change only when a new connection is pinned: read after flows to Services with ClientIP affinity, at most
  // 1/20 of the time.
  let recentReadAt = 0;
  const recentPoll =
    recent &&
    new Poller(
      opts.recentIntervalMs ?? 250,
      () => {
        recentReadAt = Date.now();
        return recent.poll();
      },
      opts.onWarning,
      { costFactor: 20, when: () => rules.pinnedFlowAt >= recentReadAt },
    );
  let address = '';
  const stages: Stage[] = [
    { name: 'the summaries', start() {}, stop: () => summaries.stop(), onEvents: summaries.onEvents },
    { name: 'the gRPC server', start() {}, stop: () => server.close(), onEvents: server.onEvents },
    rules,
    {
      name: 'the probe',
      start: () => void probe.on('events', rules.nameFlows),
      stop: () => void probe.off('events', rules.nameFlows),
    },
    ...(recentPoll
      ? [{ name: 'the xt_recent lists', start: () => recentPoll.start(), stop: () => recentPoll.stop() }]
      : []),
    {
      name: 'the gRPC listener',
      start: async () => {
        address = await server.bind(opts.listen);
      },
    },
  ];
  const running = await startStages(stages, { stream });
  return { address, server, recent, summarizer: summaries.summarizer, stop: () => running.stop() };
}
