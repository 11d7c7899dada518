// Re-reads the node's nat rules and reports when what they say about Services changes.
// A read is one iptables-save; parsing and comparing only happen when its text changed.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseNatCatalog, type NatCatalog } from './rules-parse.js';

const run = promisify(execFile);

export type RulesReader = () => Promise<string>;

/** `iptables-save -t nat`, in the node's network namespace when one is given. */
export function iptablesSave(netns?: string): RulesReader {
  const [cmd, args] = netns
    ? ['nsenter', [`--net=${netns}`, 'iptables-save', '-t', 'nat']]
    : ['iptables-save', ['-t', 'nat']];
  return async () => {
    try {
      return (await run(cmd, args, { maxBuffer: 256 * 1024 * 1024 })).stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(
        `failed to read the nat rules with '${[cmd, ...args].join(' ')}': ${(e.stderr || e.message).trim()}`,
      );
    }
  };
}

export class RulesWatcher {
  current: NatCatalog | null = null;
  private lastText: string | null = null;
  private lastServices = '';

  constructor(
    private readonly read: RulesReader,
    private readonly onChange: (catalog: NatCatalog) => void,
  ) {}

  /** Reads the rules once; calls onChange the first time and whenever the Services (or NodePorts) differ. */
  async poll(): Promise<void> {
    // iptables-save stamps its output with the time: compare the rules only.
    const text = (await this.read())
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
    if (text === this.lastText) return;
    this.lastText = text;
    const catalog = parseNatCatalog(text);
    const services = JSON.stringify([catalog.services, [...catalog.nodePorts]]);
    const first = this.current === null;
    this.current = catalog;
    if (!first && services === this.lastServices) return;
    this.lastServices = services;
    this.onChange(catalog);
  }
}
