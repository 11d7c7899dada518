// The real tools the scenarios drive inside lab namespaces: curl as the HTTP client,
// conntrack to read the node's table (the kernel's own count of flows and bytes).
import { spawn } from 'node:child_process';
import { EnvironmentError } from '../core/errors.js';
import { canonicalIp } from '../core/ip.js';
import { joinHostPort } from '../lab/ip-family.js';
import type { ScenarioContext } from './types.js';

/** `ip netns exec NS cmd args`; aborting stops it (SIGTERM) and resolves with what it printed. */
export function runIn(netns: string, cmd: string, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
    const stop = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) stop();
    child.on('error', (e) =>
      reject(new EnvironmentError(`failed to run ${cmd} in ${netns}: ${e.message}; is it installed?`)),
    );
    child.on('close', (code) => {
      signal?.removeEventListener('abort', stop);
      if (code === 0 || signal?.aborted) resolve(out);
      else
        reject(
          new EnvironmentError(
            `failed to run '${cmd} ${args.join(' ').slice(0, 120)}' in ${netns}: exit ${code}: ${err.trim().split('\n').slice(-2).join(' | ') || 'no output'}`,
          ),
        );
    });
  });
}

export interface CurlAnswer {
  /** The pod that answered (the backend's body). */
  pod: string;
  /** The client's ip:port ([ip6]:port): one per TCP connection. */
  local: string;
  /** 1 when curl opened a connection for this request, 0 when it reused one. */
  connects: number;
  bytes: number;
  /** When curl printed it (ms since the epoch, read as the output arrives). */
  at: number;
}

const WRITE_OUT = '%{local_ip} %{local_port} %{num_connects} %{size_download}\\n';
const ANSWER = /^(\S+)\n(\S+) (\d+) (\d+) (\d+)$/gm;

/**
 * One curl process fetching `url` `count` times: with keep-alive it reuses one
 * connection, with `close` it asks for a new one per request (Connection: close).
 */
export async function curlRepeated(
  netns: string,
  url: string,
  opts: { count: number; perSecond: number; close: boolean; signal?: AbortSignal },
): Promise<CurlAnswer[]> {
  const args = [
    '-s',
    '-g', // an IPv6 URL's brackets are the address, not one of curl's URL globs
    '--max-time',
    String(Math.ceil(opts.count / opts.perSecond) + 10),
    '--rate',
    `${opts.perSecond}/s`,
    '-w',
    WRITE_OUT,
  ];
  if (opts.close) args.push('-H', 'Connection: close');
  for (let i = 0; i < opts.count; i++) args.push(url);
  return parseCurl(await runIn(netns, 'curl', args, opts.signal), Date.now());
}

/** One request on a new connection. */
export async function curlOnce(netns: string, url: string, signal?: AbortSignal): Promise<CurlAnswer | null> {
  const out = await runIn(netns, 'curl', ['-s', '-g', '--max-time', '5', '-w', WRITE_OUT, url], signal);
  return parseCurl(out, Date.now())[0] ?? null;
}

function parseCurl(out: string, at: number): CurlAnswer[] {
  return [...out.matchAll(ANSWER)].map((m) => ({
    pod: m[1]!,
    local: joinHostPort(canonicalIp(m[2]!), m[3]!),
    connects: Number(m[4]),
    bytes: Number(m[5]),
    at,
  }));
}

export interface ConntrackEntry {
  proto: string;
  /** "ip:port", IPv6 as "[ip6]:port" in conntrack's (RFC 5952) spelling. */
  client: string;
  service: string;
  /** The reply's source: the backend the node picked. */
  backend: string;
  /** Both directions, where accounting (nf_conntrack_acct) is on; else 0. */
  bytes: number;
}

/** The node's conntrack entries for one Service address (`conntrack -L` in its namespace). */
export async function conntrackEntries(
  netns: string,
  proto: 'tcp' | 'udp',
  origDst: string,
): Promise<ConntrackEntry[]> {
  // conntrack lists IPv4 unless told the family.
  const family = origDst.includes(':') ? 'ipv6' : 'ipv4';
  const out = await runIn(netns, 'conntrack', ['-L', '-f', family, '-p', proto, '--orig-dst', origDst]);
  const entries: ConntrackEntry[] = [];
  for (const line of out.split('\n')) {
    const kv = [...line.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!] as const);
    const all = (k: string) => kv.filter(([key]) => key === k).map(([, v]) => v);
    const [src, rsrc] = all('src');
    const [dst] = all('dst');
    const [sport, rsport] = all('sport');
    const [dport] = all('dport');
    if (!src || !rsrc || !dst) continue;
    entries.push({
      proto,
      client: joinHostPort(src, sport ?? ''),
      service: joinHostPort(dst, dport ?? ''),
      backend: joinHostPort(rsrc, rsport ?? ''),
      bytes: all('bytes').reduce((s, b) => s + Number(b), 0),
    });
  }
  return entries;
}

/**
 * net.netfilter.nf_conntrack_acct in the node's namespace, as the run asks (per namespace; it goes with the lab). It
 * counts the connections that begin after it, so a scenario sets it before opening any.
 */
export async function setByteCounters(ctx: Pick<ScenarioContext, 'lab' | 'byteCounters'>): Promise<void> {
  const v = ctx.byteCounters ? 1 : 0;
  await runIn(ctx.lab.nodes[0]!, 'sysctl', ['-q', '-w', `net.netfilter.nf_conntrack_acct=${v}`]);
}

export function countBy<T>(items: T[], key: (x: T) => string, weight: (x: T) => number = () => 1): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of items) m.set(key(x), (m.get(key(x)) ?? 0) + weight(x));
  return m;
}
