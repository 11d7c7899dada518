// A minimal dual-stack kube-proxy node for the agent's end-to-end IPv6 test: a client, a node and two backends in
// network namespaces, every link with an IPv4 and an IPv6 address, and the node's rules as kube-proxy writes them for
// both families (iptables + ip6tables, or the `ip` and `ip6 kube-proxy` nftables tables). Backends log every peer.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { defaultConfig, type LabConfig, type LabServiceSpec } from '../../src/lab/config.js';
import { renderNft } from '../../src/kube-proxy/nft-render.js';
import { renderNat } from '../../src/kube-proxy/iptables-render.js';
import { ip6tablesText, nft6Text, toV6, v6Of } from './v6-fixtures.js';

const CLIENT4 = '10.0.1.2';
export const CLIENT6 = v6Of(CLIENT4);
/** The node's address on the client's link: where a NodePort is reached. */
export const NODE6 = v6Of('10.0.1.1');
const BACKENDS = ['b1', 'b2'];

/** web (no affinity), sticky (ClientIP, 10 s) and edge (NodePort 30080) with the two backends, as the lab names them. */
export function dualStackConfig(proxyMode: 'iptables' | 'nftables'): LabConfig {
  const c = defaultConfig({ nodes: 1, proxyMode, kubeVersion: '1.36' });
  const two = (s: LabServiceSpec) => ({ ...s, endpoints: s.endpoints.slice(0, 2) });
  return {
    ...c,
    backends: c.backends.slice(0, 2),
    // The load-balancer Service is lab-loadbalancer.test.ts's (this node routes no load-balancer range).
    services: c.services.filter((s) => s.name !== 'dns' && s.name !== 'lb').map(two),
  };
}

export interface BackendLine {
  backend: string;
  /** The connection's peer as the backend saw it: "ip:port" or "[v6]:port". */
  peer: string;
  /** The address it was reached at. */
  local: string;
}

// argv: name, addresses. Answers each connection with its name, logs one JSON line per connection.
const BACKEND = `
const net = require('net');
const [name, ...hosts] = process.argv.slice(1);
const fmt = (a, p) => (a.includes(':') ? '[' + a + ']:' : a + ':') + p;
let pending = hosts.length;
for (const host of hosts) {
  net.createServer((c) => {
    process.stdout.write(JSON.stringify({ backend: name, peer: fmt(c.remoteAddress, c.remotePort), local: fmt(c.localAddress, c.localPort) }) + '\\n');
    c.on('error', () => {});
    c.end(name);
  }).listen({ host, port: 8080 }, () => { if (--pending === 0) process.stdout.write('{"ready":true}\\n'); });
}`;

// argv: JSON list of [host, port]: one connection after another; prints its local address and the answer.
const CLIENT = `
const net = require('net');
const fmt = (a, p) => (a.includes(':') ? '[' + a + ']:' : a + ':') + p;
const one = ([host, port]) => new Promise((res, rej) => {
  const c = net.connect({ host, port });
  let answer = '', local = '';
  c.on('connect', () => { local = fmt(c.localAddress, c.localPort); });
  c.on('data', (d) => (answer += d));
  c.on('error', rej);
  c.on('close', () => res({ target: fmt(host, port), local, answer }));
});
(async () => {
  const out = [];
  for (const t of JSON.parse(process.argv[1])) out.push(await one(t));
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e.message); process.exit(1); });`;

export class DualStackNode {
  readonly client: string;
  readonly node: string;
  readonly backends: string[];
  private readonly made: string[] = [];
  private readonly servers: ChildProcess[] = [];
  readonly log: BackendLine[] = [];

  constructor(
    prefix: string,
    readonly config: LabConfig,
  ) {
    this.client = `${prefix}-c`;
    this.node = `${prefix}-n`;
    this.backends = BACKENDS.map((b) => `${prefix}-${b}`);
  }

  get nodePath(): string {
    return `/run/netns/${this.node}`;
  }

  build(): void {
    const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: 'pipe' });
    const inNs = (ns: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args);
    for (const ns of [this.client, this.node, ...this.backends]) {
      sh('ip', 'netns', 'add', ns);
      this.made.push(ns);
      inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    const link = (ns: string, peer: string, v4: string, gw4: string) => {
      sh('ip', 'link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', peer, 'netns', this.node);
      for (const [where, dev, addr] of [
        [ns, 'eth0', v4],
        [this.node, peer, gw4],
      ] as const) {
        inNs(where, 'ip', 'addr', 'add', `${addr}/24`, 'dev', dev);
        inNs(where, 'ip', '-6', 'addr', 'add', `${v6Of(addr)}/64`, 'dev', dev, 'nodad');
        inNs(where, 'ip', 'link', 'set', dev, 'up');
      }
      inNs(ns, 'ip', 'route', 'add', 'default', 'via', gw4);
      inNs(ns, 'ip', '-6', 'route', 'add', 'default', 'via', v6Of(gw4));
    };
    link(this.client, 'to-c', CLIENT4, '10.0.1.1');
    this.backends.forEach((ns, j) => {
      link(ns, `to-b${j + 1}`, `10.1.${j + 1}.2`, `10.1.${j + 1}.1`);
    });
    inNs(this.node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    const six = toV6(this.config);
    if (this.config.proxyMode === 'nftables') {
      inNs(this.node, 'sh', '-c', `nft -f - <<'EOF'\n${renderNft(this.config, 'node').text}\nEOF`);
      inNs(this.node, 'sh', '-c', `nft -f - <<'EOF'\n${nft6Text(six)}\nEOF`);
    } else {
      execFileSync('ip', ['netns', 'exec', this.node, 'iptables-restore'], {
        input: renderNat(this.config, 'node', { jumps: true }).text,
      });
      execFileSync('ip', ['netns', 'exec', this.node, 'ip6tables-restore'], { input: ip6tablesText(six) });
    }
  }

  /** Starts each backend on both its addresses; resolves once all listen. */
  async serve(): Promise<void> {
    await Promise.all(
      this.backends.map((ns, j) => {
        const child = spawn(
          'ip',
          [
            'netns',
            'exec',
            ns,
            process.execPath,
            '-e',
            BACKEND,
            BACKENDS[j]!,
            `10.1.${j + 1}.2`,
            v6Of(`10.1.${j + 1}.2`),
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        this.servers.push(child);
        return new Promise<void>((resolve, reject) => {
          let tail = '';
          child.on('exit', (code) => reject(new Error(`backend ${BACKENDS[j]} exited (${code}) before listening`)));
          child.stdout!.setEncoding('utf8').on('data', (text: string) => {
            const lines = (tail + text).split('\n');
            tail = lines.pop()!;
            for (const l of lines) {
              const o = JSON.parse(l);
              if (o.ready) resolve();
              else this.log.push(o as BackendLine);
            }
          });
        });
      }),
    );
  }

  /** Connections from the client, one after another: what each reached and which backend answered. */
  connect(targets: [string, number][]): { target: string; local: string; answer: string }[] {
    const out = execFileSync(
      'ip',
      ['netns', 'exec', this.client, process.execPath, '-e', CLIENT, JSON.stringify(targets)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return JSON.parse(out);
  }

  /** Stops the backends (by pid) and removes every namespace, whatever got made. */
  async teardown(): Promise<void> {
    for (const s of this.servers) {
      if (s.exitCode !== null || s.signalCode !== null) continue;
      const gone = new Promise((r) => s.once('exit', r));
      s.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
    }
    for (const ns of this.made.reverse()) execFileSync('ip', ['netns', 'del', ns]);
  }
}
