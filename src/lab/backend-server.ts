// A lab backend pod, run in its namespace by `lab up`: answers HTTP with its name and UDP with "name seen-ip:port",
// logging each connection and datagram as a JSON line before answering, so the log (the tests' ground truth) is whole
// when a client has its answer. Usage: node backend-server.js --name b1 --ip IP --tcp 8080 --udp 5353 --log F --ready F
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';
import { openSync, writeSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BackendLogLine } from './traffic-types.js';
import { requiredFlag } from './child-flags.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    ip: { type: 'string' },
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

function listenTcp(port: number): Promise<void> {
  const server = createServer({ keepAlive: true }, (req, res) => {
    req.resume();
    res.setHeader('Content-Type', 'text/plain');
    res.end(`${name}\n`);
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => log('tcp', `${s.localAddress}:${s.localPort}`, `${s.remoteAddress}:${s.remotePort}`));
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, '0.0.0.0', () => resolve()));
}

function listenUdp(port: number): Promise<void> {
  const sock = createSocket('udp4');
  sock.on('message', (_msg, rinfo) => {
    log('udp', `${values.ip}:${port}`, `${rinfo.address}:${rinfo.port}`);
    sock.send(`${name} ${rinfo.address}:${rinfo.port}`, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => sock.once('error', reject).bind(port, '0.0.0.0', () => resolve()));
}

await Promise.all([...ports(values.tcp!).map(listenTcp), ...ports(values.udp!).map(listenUdp)]);
writeFileSync(requiredFlag('backend-server', 'ready', values.ready), `${process.pid}\n`);
