// Re-reads the node's kube-proxy rules, one family at a time, and reports when what they say about Services changes. The
// mode is found from what the node has: KUBE-* chains in `iptables-save -t nat` (`ip6tables-save`), else kube-proxy's
// `ip` (`ip6`) nftables table, read as JSON.
// Parsing and comparing only happen when the text read changed; a read that cannot be understood keeps the catalog.
// NodeRules is the agent's stage built on it: both families' catalogs published, the probe's flows named from them,
// and the nftables affinity sets watched.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CatalogEvent, ProxyMode, StickyEvent } from '../core/event.js';
import type { Stage } from '../core/stages.js';
import { Enricher } from './enrich.js';
import { mergeFamilies } from './families.js';
import { IPVS_UNSUPPORTED, ipvsInLink, ipvsInRules } from '../kube-proxy/ipvs.js';
import { parseNftCatalog } from '../kube-proxy/nft-parse.js';
import { NftSetWatcher } from './nft-sets.js';
import { NodePortCatalog } from './node-ports.js';
import { PodNames } from './pod-names.js';
import { Poller } from './poller.js';
import { RulesReadMarks } from './rules-marks.js';
import { monitorSeesChanges, RulesSchedule } from './rules-schedule.js';
import { parseNatCatalog, type NatCatalog, type RecentList } from '../kube-proxy/iptables-parse.js';

const run = promisify(execFile);

interface RulesRead {
  mode: ProxyMode;
  text: string;
}

/** A plain string is iptables-save's text. */
export type RulesReader = () => Promise<string | RulesRead>;

/** `cmd args`, in the node's network namespace when one is given. */
function tool(netns: string | undefined, cmd: string, args: string[]): () => Promise<string> {
  const [bin, argv] = netns ? ['nsenter', [`--net=${netns}`, cmd, ...args]] : [cmd, args];
  return async () => {
    try {
      return (await run(bin, argv, { maxBuffer: 256 * 1024 * 1024 })).stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`failed to read the rules with '${[bin, ...argv].join(' ')}': ${(e.stderr || e.message).trim()}`);
    }
  };
}

/** Which of kube-proxy's two tables: `ip` (IPv4) or `ip6`. */
type NftFamily = 'ip' | 'ip6';

/** kube-proxy's nftables table, as JSON. */
const nftListTable = (netns?: string, family: NftFamily = 'ip') =>
  tool(netns, 'nft', ['-j', 'list', 'table', family, 'kube-proxy']);

/** kube-proxy's nftables sets with their elements (affinity state). */
const nftListSets = (netns?: string, family: NftFamily = 'ip') =>
  tool(netns, 'nft', ['-j', 'list', 'sets', 'table', family, 'kube-proxy']);

const hasKubeChains = (text: string) => /^:KUBE-SERVICES /m.test(text);

/** nft's and ip6tables' ways of saying the table (or the tool, or the kernel's IPv6) is not there. */
const absent =
  /No such file or directory|does not exist|ENOENT|not found|can't initialize|Address family not supported|Protocol not supported/i;

/**
 * Whichever mode the node is in: iptables when `iptables-save` shows kube-proxy's chains, else nftables when the
 * `ip kube-proxy` table exists, else iptables (no Services yet: what a node without kube-proxy shows). IPVS mode is
 * refused with the reason (each read, so the agent's warning stands while the node stays in that mode).
 *
 * `family` 6 reads `ip6tables-save` and the `ip6 kube-proxy` table the same way; there, neither being present (an
 * IPv4-only node, a kernel without IPv6, no ip6tables installed) is an empty catalog, not an error.
 */
export function nodeRules(netns?: string, family: 4 | 6 = 4): RulesReader {
  const save = family === 6 ? 'ip6tables-save' : 'iptables-save';
  const iptNat = tool(netns, save, ['-t', 'nat']);
  // The filter table holds kube-proxy's refusals of Services without endpoints; without it the nat rules still name all.
  const iptFilter = tool(netns, save, ['-t', 'filter']);
  const ipt = async () => {
    const nat = await iptNat();
    return hasKubeChains(nat) ? nat + (await iptFilter().catch(() => '')) : nat;
  };
  const nft = nftListTable(netns, family === 6 ? 'ip6' : 'ip');
  const link = tool(netns, 'ip', ['-d', 'link', 'show', 'kube-ipvs0']);
  const ipvs = (sign: string) => new Error(`${IPVS_UNSUPPORTED} (${sign})`);
  // A node found in nftables mode stays so: its table alone is read (one process, not three), so that a read triggered
  // by a change shows the rules of that moment, not those of a second later on a loaded node.
  let nftables = false;
  return async () => {
    if (nftables) {
      try {
        return { mode: 'nftables', text: await nft() };
      } catch {
        nftables = false; // the table went: find the mode again
      }
    }
    const got = await detect();
    nftables = got.mode === 'nftables';
    return got;
  };
  async function detect(): Promise<RulesRead> {
    let text = '';
    let iptError: Error | null = null;
    try {
      text = await ipt();
      const sign = ipvsInRules(text);
      if (sign) throw ipvs(sign);
      if (hasKubeChains(text)) return { mode: 'iptables', text };
    } catch (err) {
      if ((err as Error).message.startsWith(IPVS_UNSUPPORTED)) throw err;
      iptError = err as Error; // an nftables-only node may have no iptables at all
    }
    try {
      return { mode: 'nftables', text: await nft() };
    } catch (err) {
      // No table: not an nftables-mode node. With iptables unreadable as well, say why iptables failed.
      if (iptError && !(family === 6 && absent.test(iptError.message))) throw iptError;
      // IPv6: no nft at all (an iptables node's image may lack it) says as little as no table.
      const gone = family === 6 ? absent : /No such file or directory|does not exist/i;
      if (!gone.test((err as Error).message)) throw err;
    }
    if (family === 6) return { mode: 'iptables', text: '' };
    const sign = ipvsInLink(await link().catch(() => ''));
    if (sign) throw ipvs(sign);
    return { mode: 'iptables', text };
  }
}

const MAX_TOLD = 256;

export class RulesWatcher {
  current: NatCatalog | null = null;
  /** When the latest read that succeeded began, microseconds since the epoch (NaN before one). */
  readAt = Number.NaN;
  /** The latest read failed: `current` may not be what the rules say. */
  failing = false;
  private lastText: string | null = null;
  private lastServices = '';
  /** What reads skipped and `onSkip` was told of: each said once, not at every read. */
  private readonly told = new Set<string>();

  constructor(
    private readonly read: RulesReader,
    private readonly onChange: (catalog: NatCatalog) => void,
    /** Put before what a read could not do ("IPv6 rules"), so a warning says which family's rules it means. */
    private readonly label?: string,
    /** Told once of each object a read did not understand and left out (the rest of the catalog stands). */
    private readonly onSkip?: (warning: string) => void,
  ) {}

  /**
   * Reads the rules once; calls onChange the first time and whenever the Services (or NodePorts, or the mode) differ.
   * Throws what it could not read or understand, leaving `current` as it was.
   */
  async poll(): Promise<void> {
    try {
      this.failing = true;
      await this.pollOnce();
      this.failing = false;
    } catch (err) {
      if (!this.label || !(err instanceof Error)) throw err;
      // The same class (NftParseError stays one), the reader's own error object left as it was.
      const Class = err.constructor as new (message: string) => Error;
      throw new Class(`${this.label}: ${err.message}`);
    }
  }

  private async pollOnce(): Promise<void> {
    const startedAt = Date.now() * 1000;
    const got = await this.read();
    const { mode, text: raw } = typeof got === 'string' ? { mode: 'iptables' as const, text: got } : got;
    // iptables-save stamps its output with the time: compare the rules only.
    const text =
      mode === 'iptables'
        ? raw
            .split('\n')
            .filter((l) => !l.startsWith('#'))
            .join('\n')
        : raw;
    const key = `${mode}\n${text}`;
    if (key === this.lastText) {
      this.readAt = startedAt;
      return;
    }
    const catalog = mode === 'nftables' ? parseNftCatalog(text) : parseNatCatalog(text);
    for (const what of catalog.skipped ?? []) {
      // A bound on what is remembered: objects named by ever-changing content would otherwise grow it without end.
      if (this.told.has(what) || this.told.size >= MAX_TOLD) continue;
      this.told.add(what);
      this.onSkip?.(`${this.label ? `${this.label}: ` : ''}${mode} rules: skipped what is not understood: ${what}`);
    }
    this.lastText = key;
    this.readAt = startedAt;
    const services = JSON.stringify([catalog.mode, catalog.services, [...catalog.nodePorts]]);
    const first = this.current === null;
    this.current = catalog;
    if (!first && services === this.lastServices) return;
    this.lastServices = services;
    this.onChange(catalog);
  }
}

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
  /** When the probe last handed over a flow, and when the lists were last read (ms): lists change only after flows. */
  lastFlowAt = 0;
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
    // A list or set changes only when a new connection is pinned: read them after flows, at most 1/20 of the time.
    this.pollers = [
      new Poller(opts.setsIntervalMs ?? 250, () => this.pollSets(), opts.onWarning, {
        costFactor: 20,
        when: () => this.sets.waiting > 0 || this.lastFlowAt >= this.listsReadAt,
      }),
      ...(this.pods ? [new Poller(opts.rulesIntervalMs ?? 1000, () => this.pollPods(), opts.onWarning)] : []),
    ];
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
    if (last && (last.type !== 'counters' || events[0]!.type !== 'counters')) {
      this.marks.sawEvents(last.ts);
      this.lastFlowAt = Date.now();
    }
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
