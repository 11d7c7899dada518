// A lab backend pod, run in its namespace by `lab up`: answers HTTP with its name and UDP with "name seen-ip:port",
// logging each connection and datagram as a JSON line before answering, so the log (the tests' ground truth) is whole
// when a client has its answer. In a dual-stack lab it listens on both families (--ip6), each socket IPv6-only so an
// IPv4 client is never seen as ::ffff:a.b.c.d. Usage: node backend-server.js --name b1 --ip IP [--ip6 IP6] --tcp 8080
// --udp 5353 --log F --ready F
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';
import { openSync, writeSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BackendLogLine } from './traffic-types.js';
import { requiredFlag } from './child-flags.js';
import { joinHostPort } from './ip-family.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    ip: { type: 'string' },
    ip6: { type: 'string' },
    tcp: { type: 'string', default: '' },
    udp: { type: 'string', default: '' },
    log: { type: 'string' },
    ready: { type: 'string' },
  },
});
const name = requiredFlag('backend-server', 'name', values.name);
const logFd = openSync(requiredFlag('backend-server', 'log', values.log), 'a');
const ports = (list: string) => list.split(',').filter(Boolean).map(Number);

function log(proto: 'tcp' | 'udp', local: string, peer: string): void {
  const line: BackendLogLine = { ts: new Date().toISOString(), proto, backend: name, local, peer };
  writeSync(logFd, JSON.stringify(line) + '\n');
}

/** The wildcard address of each family the backend serves. */
const families: { any: string; ip: string }[] = [
  { any: '0.0.0.0', ip: values.ip ?? '0.0.0.0' },
  ...(values.ip6 ? [{ any: '::', ip: values.ip6 }] : []),
];

function listenTcp(port: number, any: string): Promise<void> {
  const server = createServer({ keepAlive: true }, (req, res) => {
    req.resume();
    res.setHeader('Content-Type', 'text/plain');
    res.end(`${name}\n`);
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) =>
    log('tcp', joinHostPort(s.localAddress!, s.localPort!), joinHostPort(s.remoteAddress!, s.remotePort!)),
  );
  return new Promise((resolve, reject) =>
    server.once('error', reject).listen({ port, host: any, ipv6Only: any === '::' }, () => resolve()),
  );
}

function listenUdp(port: number, any: string, ip: string): Promise<void> {
  const sock = createSocket({ type: any === '::' ? 'udp6' : 'udp4', ipv6Only: any === '::' });
  sock.on('message', (_msg, rinfo) => {
    const peer = joinHostPort(rinfo.address, rinfo.port);
    log('udp', joinHostPort(ip, port), peer);
    sock.send(`${name} ${peer}`, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => sock.once('error', reject).bind(port, any, () => resolve()));
}

await Promise.all(
  families.flatMap(({ any, ip }) => [
    ...ports(values.tcp!).map((p) => listenTcp(p, any)),
    ...ports(values.udp!).map((p) => listenUdp(p, any, ip)),
  ]),
);
writeFileSync(requiredFlag('backend-server', 'ready', values.ready), `${process.pid}\n`);
