// Long-lived connections for the live-connection tests: a client in a lab netns that opens N keep-alive TCP
// connections (HTTP) and M UDP flows to two Services and holds them. On stdin, "ping" sends one request on each open
// connection and one datagram on each flow and answers {"pinged": n} once every answer came; "close K" ends the first K
// TCP connections still open (FIN: their entries go to TIME_WAIT). It prints its sockets' local addresses first, so
// the test can find them in the backends' logs and in `conntrack -L`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const HOLDER = `
const net = require('net'), dgram = require('dgram'), readline = require('readline');
const o = JSON.parse(process.argv[1]);
const say = (x) => process.stdout.write(JSON.stringify(x) + '\\n');
const addr = (a, p) => (a.includes(':') ? '[' + a + ']:' : a + ':') + p;
const request = 'GET / HTTP/1.1\\r\\nHost: lab\\r\\nConnection: keep-alive\\r\\n\\r\\n';
const tcp = [], udp = [];
function answerOn(c) {
  return new Promise((res) => { let got = ''; const on = (d) => { got += d; if (/\\n[a-z0-9-]+\\n$/.test(got)) { c.off('data', on); res(); } }; c.on('data', on); });
}
function pingTcp(c) { const p = answerOn(c); c.write(request); return p; }
function pingUdp(s) { return new Promise((res) => { s.once('message', () => res()); s.send('ping', o.udpPort, o.udpHost); }); }
async function ping() {
  const open = tcp.filter((c) => !c.ended);
  await Promise.all([...open.map(pingTcp), ...udp.map(pingUdp)]);
  return open.length + udp.length;
}
async function main() {
  for (let i = 0; i < o.tcp; i++) {
    const c = net.connect({ host: o.tcpHost, port: o.tcpPort });
    c.setEncoding('utf8');
    c.on('error', (e) => say({ error: e.message }));
    await new Promise((r) => c.once('connect', r));
    c.addr = addr(c.localAddress, c.localPort);
    tcp.push(c);
  }
  for (let i = 0; i < o.udp; i++) {
    const s = dgram.createSocket(o.udpHost.includes(':') ? 'udp6' : 'udp4');
    await new Promise((r) => s.bind(0, r));
    udp.push(s);
  }
  await ping();
  say({ tcp: tcp.map((c) => c.addr), udp: udp.map((s) => addr(o.source, s.address().port)) });
  readline.createInterface({ input: process.stdin }).on('line', async (line) => {
    const [cmd, n] = line.split(' ');
    if (cmd === 'ping') say({ pinged: await ping() });
    if (cmd === 'close') {
      const open = tcp.filter((c) => !c.ended).slice(0, Number(n));
      for (const c of open) { c.ended = true; c.resume(); c.end(); }
      say({ closed: open.map((c) => c.addr) });
    }
  });
}
main().catch((e) => { say({ error: e.message }); process.exit(1); });`;

export interface HolderPlan {
  tcp: number;
  udp: number;
  tcpHost: string;
  tcpPort: number;
  udpHost: string;
  udpPort: number;
  /** The client's own address (UDP sockets bound to the wildcard do not know it). */
  source: string;
}

export class Holder {
  readonly child: ChildProcess;
  private readonly lines: Record<string, unknown>[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(netns: string, plan: HolderPlan) {
    this.child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', HOLDER, JSON.stringify(plan)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      this.lines.push(JSON.parse(l) as Record<string, unknown>);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The next line with `key`, after those already taken; fails on an error line or after timeoutMs. */
  async next<T extends Record<string, unknown>>(key: string, timeoutMs = 30_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const err = this.lines.find((l) => 'error' in l);
      if (err) throw new Error(`the connection holder failed: ${String(err.error)}`);
      const i = this.lines.findIndex((l) => key in l);
      if (i >= 0) return this.lines.splice(i, 1)[0] as T;
      if (Date.now() > end || this.child.exitCode !== null)
        throw new Error(`the connection holder did not say ${key} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
