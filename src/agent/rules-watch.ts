// Re-reads the node's kube-proxy rules, one family at a time, and reports when what they say about Services changes. The
// mode is found from what the node has: KUBE-* chains in `iptables-save -t nat` (`ip6tables-save`), else kube-proxy's
// `ip` (`ip6`) nftables table, read as JSON.
// Parsing and comparing only happen when the text read changed; a read that cannot be understood keeps the catalog.
// The agent's stage built on it is NodeRules (node-rules.ts).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ProxyMode } from '../core/event.js';
import { IPVS_UNSUPPORTED, ipvsInLink, ipvsInRules } from '../kube-proxy/ipvs.js';
import { parseNftCatalog } from '../kube-proxy/nft-parse.js';
import { parseNatCatalog, type NatCatalog } from '../kube-proxy/iptables-parse.js';

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
export const nftListSets = (netns?: string, family: NftFamily = 'ip') =>
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
