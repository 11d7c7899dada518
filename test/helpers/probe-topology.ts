// A minimal node for the probe tests: client netns -> node netns (iptables DNAT from a
// Service address to the backend, IPv4 and IPv6) -> backend netns with a listener that
// logs every peer it sees: the ground truth the probe's events are compared with.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { waitFor, atLeast } from './wait.js';

export const SERVICE4 = '10.96.77.10';
export const SERVICE6 = 'fd96::10';
const BACKEND4 = '10.77.2.2';
const BACKEND6 = 'fd77:2::2';
export const SERVICE_PORT = 80;
const BACKEND_PORT = 8080;

export interface Seen {
  proto: 'tcp' | 'udp';
  client: string;
  local: string;
}

function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNs(ns: string, cmd: string, ...args: string[]): string {
  return sh('ip', 'netns', 'exec', ns, cmd, ...args);
}

const LISTENER = `
const net = require('net'), dgram = require('dgram');
const fmt = (a, p) => (a.includes(':') ? '[' + a + ']:' : a + ':') + p;
const log = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
let pending = 4;
const up = () => { if (--pending === 0) log({ ready: true }); };
for (const host of process.argv.slice(1)) {
  net.createServer((c) => {
    log({ proto: 'tcp', client: fmt(c.remoteAddress, c.remotePort), local: fmt(c.localAddress, c.localPort) });
    c.on('error', () => {}); c.resume(); c.on('end', () => c.end());
  }).listen({ host, port: ${BACKEND_PORT} }, up);
  const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  u.on('message', (m, r) => log({ proto: 'udp', client: fmt(r.address, r.port), local: fmt(host, ${BACKEND_PORT}) }));
  u.bind(${BACKEND_PORT}, host, up);
}`;

// argv: JSON {host, tcp, udp, datagrams, concurrency}; TCP connects, writes, closes;
// each UDP flow sends its datagrams back to back from one socket, unanswered.
const CLIENT = `
const net = require('net'), dgram = require('dgram');
const o = JSON.parse(process.argv[1]);
const tcpOne = () => new Promise((res, rej) => {
  const c = net.connect({ host: o.host, port: ${SERVICE_PORT} }, () => c.end('x'));
  c.on('error', rej); c.on('close', res); c.resume();
});
const udpOne = () => new Promise((res, rej) => {
  const s = dgram.createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
  s.on('error', rej);
  let sent = 0;
  for (let i = 0; i < o.datagrams; i++) s.send('x', ${SERVICE_PORT}, o.host, () => { if (++sent === o.datagrams) { s.close(); res(); } });
});
async function pool(n, f) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, o.concurrency) }, async () => { while (next++ < n) await f(); }));
}
pool(o.tcp, tcpOne).then(() => pool(o.udp, udpOne)).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });`;

export class ProbeNet {
  readonly client: string;
  readonly node: string;
  readonly backend: string;
  private readonly made: string[] = [];
  private listener: ChildProcess | undefined;
  readonly seen: Seen[] = [];

  constructor(prefix: string) {
    this.client = `${prefix}-c`;
    this.node = `${prefix}-n`;
    this.backend = `${prefix}-b`;
  }

  get nodePath(): string {
    return `/run/netns/${this.node}`;
  }

  /** masquerade: SNAT everything leaving towards the backend, so it sees the node's address. */
  build(opts: { masquerade?: boolean } = {}): void {
    for (const ns of [this.client, this.node, this.backend]) {
      sh('ip', 'netns', 'add', ns);
      this.made.push(ns);
      inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    sh(
      'ip',
      'link',
      'add',
      'eth0',
      'netns',
      this.client,
      'type',
      'veth',
      'peer',
      'name',
      'to-client',
      'netns',
      this.node,
    );
    sh(
      'ip',
      'link',
      'add',
      'eth0',
      'netns',
      this.backend,
      'type',
      'veth',
      'peer',
      'name',
      'to-backend',
      'netns',
      this.node,
    );
    const side = (ns: string, dev: string, v4: string, v6: string) => {
      inNs(ns, 'ip', 'addr', 'add', v4, 'dev', dev);
      inNs(ns, 'ip', '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
      inNs(ns, 'ip', 'link', 'set', dev, 'up');
    };
    side(this.client, 'eth0', '10.77.1.2/24', 'fd77:1::2/64');
    side(this.node, 'to-client', '10.77.1.1/24', 'fd77:1::1/64');
    side(this.node, 'to-backend', '10.77.2.1/24', 'fd77:2::1/64');
    side(this.backend, 'eth0', `${BACKEND4}/24`, `${BACKEND6}/64`);
    for (const [ns, gw4, gw6] of [
      [this.client, '10.77.1.1', 'fd77:1::1'],
      [this.backend, '10.77.2.1', 'fd77:2::1'],
    ] as const) {
      inNs(ns, 'ip', 'route', 'add', 'default', 'via', gw4);
      inNs(ns, 'ip', '-6', 'route', 'add', 'default', 'via', gw6);
    }
    // like a node's default route: connect() needs a route to the Service address before OUTPUT DNAT runs
    inNs(this.node, 'ip', 'route', 'add', `${SERVICE4}/32`, 'via', BACKEND4);
    inNs(this.node, 'ip', '-6', 'route', 'add', `${SERVICE6}/128`, 'via', BACKEND6);
    inNs(this.node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    for (const [proto, chain] of [
      ['tcp', 'PREROUTING'],
      ['udp', 'PREROUTING'],
      ['tcp', 'OUTPUT'],
      ['udp', 'OUTPUT'],
    ] as const) {
      inNs(
        this.node,
        'iptables',
        '-t',
        'nat',
        '-A',
        chain,
        '-d',
        SERVICE4,
        '-p',
        proto,
        '--dport',
        `${SERVICE_PORT}`,
        '-j',
        'DNAT',
        '--to-destination',
        `${BACKEND4}:${BACKEND_PORT}`,
      );
      inNs(
        this.node,
        'ip6tables',
        '-t',
        'nat',
        '-A',
        chain,
        '-d',
        SERVICE6,
        '-p',
        proto,
        '--dport',
        `${SERVICE_PORT}`,
        '-j',
        'DNAT',
        '--to-destination',
        `[${BACKEND6}]:${BACKEND_PORT}`,
      );
    }
    if (opts.masquerade) {
      inNs(this.node, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'to-backend', '-j', 'MASQUERADE');
      inNs(this.node, 'ip6tables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'to-backend', '-j', 'MASQUERADE');
    }
  }

  /** Starts the backend listener; resolves once it listens on both families. */
  async listen(): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', this.backend, process.execPath, '-e', LISTENER, BACKEND4, BACKEND6], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.listener = child;
    let tail = '';
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      const lines = (tail + text).split('\n');
      tail = lines.pop()!;
      for (const line of lines) {
        const rec = JSON.parse(line) as Seen & { ready?: true };
        if (rec.ready) ready();
        else this.seen.push(rec);
      }
    });
    await Promise.race([
      isReady,
      once(child, 'exit').then(() => {
        throw new Error('backend listener exited before listening');
      }),
    ]);
  }

  /** Runs the client to completion, from the client namespace unless fromNode. */
  async traffic(opts: {
    host: string;
    tcp: number;
    udp: number;
    datagrams?: number;
    concurrency?: number;
    fromNode?: boolean;
  }): Promise<void> {
    const args = JSON.stringify({ datagrams: 1, concurrency: 1, ...opts });
    const ns = opts.fromNode ? this.node : this.client;
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, args], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`client traffic failed (exit ${code})`);
  }

  /** Waits until the listener has logged n peers in total. */
  async waitSeen(n: number, timeoutMs = 5000): Promise<void> {
    await waitFor('the listener to log its peers', () => atLeast(this.seen.length, n), timeoutMs);
  }

  /** The node namespace's conntrack table size, read with conntrack(8). */
  conntrackCount(): number {
    return Number(inNs(this.node, 'conntrack', '-C').trim());
  }

  async destroy(): Promise<void> {
    const l = this.listener;
    if (l && l.exitCode === null && l.signalCode === null && l.pid !== undefined) {
      const exited = once(l, 'exit');
      process.kill(l.pid, 'SIGKILL');
      await exited;
    }
    for (const ns of this.made.splice(0)) sh('ip', 'netns', 'del', ns);
  }
}
