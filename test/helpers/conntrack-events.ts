// `conntrack -E -e NEW` in a namespace: the kernel's own event stream, used as a
// ground truth independent of the BPF probe.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { joinHostPort } from '../../src/lab/ip-family.js';
import { atLeast, waitFor } from './wait.js';

/** IPv6 in RFC 5952 form (as sockets, logs and reports print it), bracketed with its port; IPv4 as is. */
function endpoint(ip: string, port: string): string {
  return joinHostPort(ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip, port);
}

export interface ConntrackNew {
  proto: string;
  client: string;
  service: string;
  backend: string;
  /** The reply's destination: the source the backend sees. */
  seenAs: string;
}

/** Parses one line such as `[NEW] tcp 6 120 SYN_SENT src=A dst=B sport=1 dport=2 [UNREPLIED] src=C dst=D sport=3 dport=4`. */
function parseConntrackLine(line: string): ConntrackNew | null {
  const m = /\[NEW\]\s+(\w+)/.exec(line);
  if (!m) return null;
  const get = (key: string) => [...line.matchAll(new RegExp(`\\b${key}=(\\S+)`, 'g'))].map((x) => x[1]!);
  const [src, dst, sport, dport] = [get('src'), get('dst'), get('sport'), get('dport')];
  if (src.length < 2 || dst.length < 2 || sport.length < 2 || dport.length < 2) return null;
  return {
    proto: m[1]!,
    client: endpoint(src[0]!, sport[0]!),
    service: endpoint(dst[0]!, dport[0]!),
    backend: endpoint(src[1]!, sport[1]!),
    seenAs: endpoint(dst[1]!, dport[1]!),
  };
}

export interface ConntrackWatch {
  /**
   * Waits until `expected` NEW entries (those `counted`) have come (the test knows how many connections it made),
   * then ends the watcher and returns every entry seen.
   */
  stop(expected: number, counted?: (e: ConntrackNew) => boolean): Promise<ConntrackNew[]>;
  /** For t.after: ends the watcher if stop() was never reached. */
  kill(): void;
}

/** `family` ipv6 watches IPv6 flows (conntrack's default is IPv4 only). */
export async function watchConntrack(netns: string, family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<ConntrackWatch> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, 'conntrack', '-E', '-e', 'NEW', '-f', family], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  // conntrack prints nothing when it has subscribed: its netfilter netlink socket (protocol 12) with a multicast group
  // joined, in the namespace's /proc/PID/net/netlink, is the sign. (`ip netns exec` execs conntrack in its place.)
  await waitFor(
    `conntrack -E in ${netns} to join its netlink group`,
    () => {
      if (child.exitCode !== null) throw new Error(`conntrack -E exited at once: ${err.trim()}`);
      return subscribed(child.pid!);
    },
    5000,
  );
  const parsed = () =>
    out
      .split('\n')
      .map(parseConntrackLine)
      .filter((x): x is ConntrackNew => x !== null);
  return {
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    async stop(expected, counted = () => true) {
      await waitFor(
        `conntrack NEW entries in ${netns}`,
        () => atLeast(parsed().filter(counted).length, expected),
        10_000,
      );
      child.kill('SIGTERM');
      await exited;
      if (/ENOBUFS|No buffer space/i.test(err))
        throw new Error(`conntrack -E lost events (ENOBUFS): the ground truth is incomplete`);
      return parsed();
    },
  };
}

/** Whether process `pid` holds a netfilter netlink socket that has joined a multicast group. */
function subscribed(pid: number): boolean {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m ? [m[1]!] : [];
      }),
    );
  } catch {
    return false;
  }
  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
  return readFileSync(`/proc/${pid}/net/netlink`, 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .some((f) => f[1] === '12' && f[3] !== undefined && /[1-9a-f]/.test(f[3]) && inodes.has(f[9]!));
}
