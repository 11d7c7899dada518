// A lab client, run in a client namespace by runClient(): makes one plan's requests, one JSON line per answer or
// failure on stdout and in its log; ends after `count` operations or `durationMs`, or on SIGTERM/SIGINT.
// Usage: node traffic-client.js --name c1 --ip 10.0.1.2 --plan '{"target":"10.96.0.10:80",...}' --log FILE
import { Agent, request } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import { openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ClientResult, ResolvedPlan } from './traffic-types.js';
import { requiredFlag } from './child-flags.js';
import { joinHostPort, splitHostPort } from './ip-family.js';

const { values } = parseArgs({
  options: { name: { type: 'string' }, ip: { type: 'string' }, plan: { type: 'string' }, log: { type: 'string' } },
});
const plan = JSON.parse(requiredFlag('traffic-client', 'plan', values.plan)) as ResolvedPlan;
const logFd = openSync(requiredFlag('traffic-client', 'log', values.log), 'a');
const clientName = requiredFlag('traffic-client', 'name', values.name);
const target = splitHostPort(plan.target);
if (!target) throw new Error(`traffic-client: --plan target must be ip:port or [ip6]:port; got '${plan.target}'`);
const { host, port } = target;
const v6 = host.includes(':');
const timeoutMs = plan.timeoutMs ?? 2000;
const deadline = Date.now() + (plan.durationMs ?? Infinity);
let stopping = false;
process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));

function emit(r: Omit<ClientResult, 'client' | 'service' | 'target' | 'mode' | 'proto'>): void {
  const line: ClientResult = {
    client: clientName,
    service: plan.service,
    target: plan.target,
    proto: plan.proto,
    mode: plan.mode,
    ...r,
  };
  const text = JSON.stringify(line) + '\n';
  writeSync(logFd, text);
  process.stdout.write(text);
}

const more = (done: number) => !stopping && done < plan.count && Date.now() < deadline;
const sources = plan.sources?.length ? plan.sources : [requiredFlag('traffic-client', 'ip', values.ip)];
/** The source address of connection or socket `conn`. */
const sourceOf = (conn: number) => sources[conn % sources.length]!;
const pause = () => new Promise((r) => setTimeout(r, plan.intervalMs ?? 0));

function httpGet(agent: Agent | false, conn: number, seq: number): Promise<void> {
  const start = Date.now();
  return new Promise((resolve) => {
    let local = '';
    const req = request(
      {
        host,
        port,
        path: '/',
        agent,
        localAddress: sourceOf(conn),
        timeout: timeoutMs,
        headers: agent ? {} : { Connection: 'close' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => {
          emit({ ts: new Date().toISOString(), conn, seq, local, answer: body.trim(), ms: Date.now() - start });
          resolve();
        });
      },
    );
    req.on('socket', (s) => {
      const note = () => (local = joinHostPort(s.localAddress!, s.localPort!));
      if (s.localPort) note();
      else s.once('connect', note);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => {
      emit({
        ts: new Date().toISOString(),
        conn,
        seq,
        local,
        answer: null,
        error: err.message,
        ms: Date.now() - start,
      });
      resolve();
    });
    req.end();
  });
}

async function runHttp(): Promise<void> {
  const per = plan.mode === 'keepalive' ? Math.max(1, plan.perConnection ?? plan.count) : 1;
  let done = 0;
  for (let conn = 0; more(done); conn++) {
    const agent = plan.mode === 'keepalive' ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    for (let i = 0; i < per && more(done); i++, done++) {
      await httpGet(agent, conn, done);
      await pause();
    }
    if (agent) agent.destroy();
  }
}

function udpExchange(sock: Socket, conn: number, seq: number): Promise<void> {
  const start = Date.now();
  return new Promise((resolve) => {
    const finish = (answer: string | null, error?: string) => {
      clearTimeout(timer);
      sock.off('message', onMessage);
      const a = sock.address();
      const [name, seen] = answer ? answer.split(' ') : [null, undefined];
      emit({
        ts: new Date().toISOString(),
        conn,
        seq,
        local: joinHostPort(a.address, a.port),
        answer: name ?? null,
        seen,
        error,
        ms: Date.now() - start,
      });
      resolve();
    };
    const onMessage = (msg: Buffer) => finish(msg.toString('utf8'));
    const timer = setTimeout(() => finish(null, `no answer within ${timeoutMs} ms`), timeoutMs);
    sock.on('message', onMessage);
    sock.send(`${values.name} ${seq}`, port, host);
  });
}

async function openUdp(conn: number): Promise<Socket> {
  const sock = createSocket(v6 ? 'udp6' : 'udp4');
  await new Promise<void>((r) => sock.bind(0, sourceOf(conn), () => r()));
  return sock;
}

async function runUdp(): Promise<void> {
  let done = 0;
  const flow = plan.mode === 'udp-flow' ? await openUdp(0) : null;
  for (let conn = 0; more(done); done++) {
    const sock = flow ?? (await openUdp(conn));
    await udpExchange(sock, flow ? 0 : conn++, done);
    if (!flow) sock.close();
    await pause();
  }
  flow?.close();
}

await (plan.proto === 'udp' ? runUdp() : runHttp());
