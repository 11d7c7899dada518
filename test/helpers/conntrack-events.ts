// `conntrack -E -e NEW` in a namespace: the kernel's own event stream, used as a
// ground truth independent of the BPF probe.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { joinHostPort } from '../../src/lab/ip-family.js';

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
export function parseConntrackLine(line: string): ConntrackNew | null {
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
  stop(): Promise<ConntrackNew[]>;
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
  // conntrack prints nothing when it has subscribed; give it a moment to bind its socket.
  await sleep(400);
  if (child.exitCode !== null) throw new Error(`conntrack -E exited at once: ${err.trim()}`);
  return {
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    async stop() {
      await sleep(300);
      child.kill('SIGTERM');
      await exited;
      if (/ENOBUFS|No buffer space/i.test(err))
        throw new Error(`conntrack -E lost events (ENOBUFS): the ground truth is incomplete`);
      return out
        .split('\n')
        .map(parseConntrackLine)
        .filter((x): x is ConntrackNew => x !== null);
    },
  };
}
