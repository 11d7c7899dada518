// `conntrack -L` in a node namespace, read as the live-connection tests compare with: every translated entry with its
// state and counters (an independent ground truth: conntrack(8) reads the table its own way).
import { execFileSync } from 'node:child_process';

export interface TableEntry {
  proto: string;
  /** TCP only, as conntrack prints it. */
  state: string | undefined;
  client: string;
  service: string;
  backend: string;
  /** Both directions; 0 without accounting. */
  bytes: number;
}

const hostPort = (ip: string, port: string) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** Entries whose original destination was translated (reply source is not the original destination). */
export function conntrackTable(netns: string): TableEntry[] {
  const out = execFileSync('ip', ['netns', 'exec', netns, 'conntrack', '-L', '-f', 'ipv4'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 1 << 30,
  });
  const entries: TableEntry[] = [];
  for (const line of out.split('\n')) {
    const proto = /^(tcp|udp)\s/.exec(line)?.[1];
    if (!proto) continue;
    const all = (k: string) => [...line.matchAll(new RegExp(`\\b${k}=(\\S+)`, 'g'))].map((m) => m[1]!);
    const [src, rsrc] = all('src');
    const [dst] = all('dst');
    const [sport, rsport] = all('sport');
    const [dport] = all('dport');
    if (!src || !rsrc || !dst || !sport || !rsport || !dport) continue;
    const service = hostPort(dst, dport);
    const backend = hostPort(rsrc, rsport);
    if (service === backend) continue;
    entries.push({
      proto,
      state: proto === 'tcp' ? /^tcp\s+\d+\s+\d+\s+(\S+)/.exec(line)?.[1] : undefined,
      client: hostPort(src, sport),
      service,
      backend,
      bytes: all('bytes').reduce((s, b) => s + Number(b), 0),
    });
  }
  return entries;
}

/** Open as docs/design.md counts them: TCP not in TIME_WAIT or CLOSE; UDP while the entry lives. */
export const isOpen = (e: TableEntry) => e.state !== 'TIME_WAIT' && e.state !== 'CLOSE';
