// The node's rules as the agent's stage, built on RulesWatcher (rules-watch.ts): both families' catalogs published,
// the probe's flows named from them, and the nftables affinity sets watched.
import type { CatalogEvent, StickyEvent } from '../core/event.js';
import type { Stage } from '../core/stages.js';
import type { NatCatalog, RecentList } from '../kube-proxy/iptables-parse.js';
import { Enricher } from './enrich.js';
import { mergeFamilies } from './families.js';
import { FILL_MS, NftSetWatcher } from './nft-sets.js';
import { NodePortCatalog } from './node-ports.js';
import { PodNames } from './pod-names.js';
import { Poller } from './poller.js';
import { RulesReadMarks } from './rules-marks.js';
import { monitorSeesChanges, RulesSchedule } from './rules-schedule.js';
import { nftListSets, nodeRules, RulesWatcher, type RulesReader } from './rules-watch.js';

export interface NodeRulesOptions {
  node: string;
  /** The node's network namespace (for the readers); the current one when absent. */
  netns?: string;
  /** The IPv4 rules (default nodeRules(netns)). */
  readRules?: RulesReader;
  /** The IPv6 rules (default `ip6tables-save -t nat`, else `nft -j list table ip6 kube-proxy`, in the netns). */
  readRules6?: RulesReader;
  /** nftables mode: reads the affinity sets (default `nft -j list sets table ip kube-proxy` in the netns). */
  readSets?: () => Promise<string>;
  /** The same for the IPv6 table (`... table ip6 kube-proxy`). */
  readSets6?: () => Promise<string>;
  /** Polling period of the rules where changes are not announced (iptables-legacy, no nft; default 1000). */
  rulesIntervalMs?: number;
  /** Shortest period of the affinity-set reads (default 250; longer when a read costs more). */
  setsIntervalMs?: number;
  /** Learn of rule changes from `nft monitor` where it sees them (default: unless readRules is given). */
  watchRules?: boolean;
  /** Where catalogs, affinity-set events and named flows go: the agent's stream. */
  emit: (events: StickyEvent[]) => void;
  /** Rules or sets unreadable: said once until it changes. */
  onWarning?: (message: string) => void;
  /** `--pods FILE`: pod names by backend address (pod-names.ts), re-read when it changes. */
  podsFile?: string;
}

const noLists = new Map<string, RecentList>();
const nftLists = (c: NatCatalog | null) => (c?.mode === 'nftables' ? c.lists : noLists);

/**
 * The node's rules as the agent's stage. Each family's rules are read and kept on their own: a bad IPv6 read keeps
 * the previous IPv6 catalog and leaves the IPv4 one alone. Until both first reads are done (start), nothing is
 * published; then the first catalog goes out before any flow, so every flow can be named.
 */
export class NodeRules implements Stage {
  readonly name = "the node's rules";
  private readonly nodePorts = new NodePortCatalog();
  private readonly pods: PodNames | null;
  /** The catalog's services: the rules', NodePorts at learned addresses, pods named from --pods. */
  private readonly services = () => this.pods?.name(this.nodePorts.services()) ?? this.nodePorts.services();
  private readonly enricher = new Enricher(this.nodePorts, this.services);
  private readonly rules: RulesWatcher;
  private readonly rules6: RulesWatcher;
  private readonly sets: NftSetWatcher;
  private readonly pollers: Poller[];
  /** Watermarks follow the catalog they vouch for: a verdict waits for them (src/aggregator/pending-verdicts.ts). */
  private readonly marks: RulesReadMarks;
  private schedule: RulesSchedule | null = null;
  /** Each family's read failures, said once until they change. */
  private readonly warn4: (message: string) => void;
  private readonly warn6: (message: string) => void;
  /** When the lists were last read (ms): they change only after new connections to a Service with ClientIP affinity. */
  private listsReadAt = 0;
  private started = false;
  private merged: NatCatalog | null = null;
  /** The set watcher rebuilds its index when the lists object changes: one object per pair of catalogs. */
  private listsOf: [NatCatalog | null, NatCatalog | null, ReadonlyMap<string, RecentList>] = [null, null, noLists];

  constructor(private readonly opts: NodeRulesOptions) {
    this.pods = opts.podsFile ? new PodNames(opts.podsFile) : null;
    this.warn4 = warnOnce(opts.onWarning);
    this.warn6 = warnOnce(opts.onWarning);
    this.marks = new RulesReadMarks(2, (readAt) =>
      opts.emit([{ type: 'rulesRead', ts: Math.max(Date.now() * 1000, readAt), node: opts.node, readAt }]),
    );
    const changed = () => this.changed();
    const skipped = (w: string) => opts.onWarning?.(w);
    this.rules = new RulesWatcher(opts.readRules ?? nodeRules(opts.netns), changed, undefined, skipped);
    // A caller that reads the IPv4 rules its own way (a test, a replay) says where IPv6 rules come from, or has none.
    const read6 = opts.readRules6 ?? (opts.readRules ? async () => '' : nodeRules(opts.netns, 6));
    this.rules6 = new RulesWatcher(read6, changed, 'IPv6 rules', skipped);
    const readSets = opts.readSets ?? nftListSets(opts.netns);
    const readSets6 = opts.readSets6 ?? nftListSets(opts.netns, 'ip6');
    this.sets = new NftSetWatcher({
      node: opts.node,
      // Only the tables whose Services have affinity sets: an IPv4-only node has no `ip6 kube-proxy` to list.
      read: async () => [
        ...(nftLists(this.rules.current).size > 0 ? [await readSets()] : []),
        ...(nftLists(this.rules6.current).size > 0 ? [await readSets6()] : []),
      ],
      lists: () => this.bothLists(),
      emit: opts.emit,
    });
    // A set changes only when a new connection is pinned: a pick into a set that may be full waits for a read (250 ms
    // apart); otherwise the sets are read for their fill only after such flows (not after flows to Services without
    // affinity, most of a busy node's), FILL_MS apart; either at most 1/20 of the time.
    this.pollers = [
      new Poller(opts.setsIntervalMs ?? 250, () => this.pollSets(), opts.onWarning, {
        costFactor: 20,
        when: () =>
          this.sets.waiting > 0 || (this.pinnedFlowAt >= this.listsReadAt && Date.now() - this.listsReadAt >= FILL_MS),
      }),
      ...(this.pods ? [new Poller(opts.rulesIntervalMs ?? 1000, () => this.pollPods(), opts.onWarning)] : []),
    ];
  }

  /** Date.now() of the last batch with a new connection to a Service with ClientIP affinity (0: none yet). */
  get pinnedFlowAt(): number {
    return this.enricher.pinnedFlowAt;
  }

  /** Both families' rules merged, null until one was read. */
  get catalog(): NatCatalog | null {
    return this.merged;
  }

  async start(): Promise<void> {
    // The first catalog goes out before any flow, so every flow can be named (and its pods, from the start).
    await this.pods?.refresh().catch((err: Error) => this.opts.onWarning?.(err.message));
    await this.readRules();
    this.started = true;
    if (this.merged) this.changed();
    else this.opts.emit([{ type: 'catalog', ts: Date.now() * 1000, node: this.opts.node, services: [] }]);
    this.readBoth();
    const opts = this.opts;
    const monitorWarn = warnOnce(opts.onWarning);
    const watch = (opts.watchRules ?? !opts.readRules) && (await monitorSeesChanges(this.merged?.mode));
    this.schedule = new RulesSchedule({
      read: async () => {
        await this.readRules();
        this.readBoth();
      },
      unchangedAt: (at) => {
        if (!this.rules.failing) this.marks.read(0, at);
        if (!this.rules6.failing) this.marks.read(1, at);
      },
      wanted: () => this.marks.wanted(),
      monitor: watch ? { netns: opts.netns, onWarning: monitorWarn } : null,
      pollMs: opts.rulesIntervalMs ?? 1000,
    });
    for (const p of this.pollers) p.start();
  }

  stop(): void {
    this.schedule?.stop();
    for (const p of this.pollers) p.stop();
  }

  /** Each family's rules read once; a failure is said once per family until it changes. */
  private async readRules(): Promise<void> {
    await this.rules.poll().catch((err: Error) => this.warn4(err.message));
    await this.rules6.poll().catch((err: Error) => this.warn6(err.message));
  }

  private readBoth(): void {
    this.marks.read(0, this.rules.readAt);
    this.marks.read(1, this.rules6.readAt);
  }

  /** Names the probe's flows (in place) and passes them on. */
  readonly nameFlows = (events: StickyEvent[]): void => {
    // The probe's periodic counters alone ask for no watermark and no list read: only a batch with a flow in it does
    // (its first or last event, so a flow costs nothing here).
    const last = events[events.length - 1];
    if (last && (last.type !== 'counters' || events[0]!.type !== 'counters')) this.marks.sawEvents(last.ts);
    const learnedAt = this.enricher.enrich(events);
    this.sets.observe(events);
    // A flow through a NodePort at a node address not seen before: the catalog entry for
    // it goes out first, timed as that flow, so the flow is judged by it.
    if (!Number.isNaN(learnedAt)) {
      const catalog = this.catalogAt(learnedAt);
      this.enricher.setServices(catalog.services);
      this.opts.emit([catalog]);
    }
    this.opts.emit(events);
  };

  private changed(): void {
    this.merged = mergeFamilies(this.rules.current, this.rules6.current);
    if (!this.started || !this.merged) return;
    this.nodePorts.setRules(this.merged);
    const catalog = this.catalogAt(Date.now() * 1000);
    this.enricher.setServices(catalog.services);
    this.opts.emit([catalog]);
    this.marks.changed();
  }

  private catalogAt(ts: number): CatalogEvent {
    const proxyMode = this.merged?.mode;
    const services = this.services();
    return { type: 'catalog', ts, node: this.opts.node, services, ...(proxyMode ? { proxyMode } : {}) };
  }

  private bothLists(): ReadonlyMap<string, RecentList> {
    const [v4, v6] = [this.rules.current, this.rules6.current];
    if (this.listsOf[0] !== v4 || this.listsOf[1] !== v6)
      this.listsOf = [v4, v6, new Map([...nftLists(v4), ...nftLists(v6)])];
    return this.listsOf[2];
  }

  private async pollPods(): Promise<void> {
    if (this.started && this.merged && (await this.pods?.refresh())) this.changed();
  }

  private async pollSets(): Promise<void> {
    this.listsReadAt = Date.now();
    if (nftLists(this.rules.current).size > 0 || nftLists(this.rules6.current).size > 0) await this.sets.poll();
  }
}

/** A warning said once until it changes: two tasks failing in turn do not repeat each other's. */
function warnOnce(onWarning?: (message: string) => void): (message: string) => void {
  let last = '';
  return (message) => {
    if (message === last) return;
    last = message;
    onWarning?.(message);
  };
}
