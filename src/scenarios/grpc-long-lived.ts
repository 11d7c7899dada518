// grpc-long-lived: a gRPC Service (@grpc/grpc-js) on 3 pods, 3 client pods each with one channel sending a call every
// 100 ms, then 2 more endpoints added the way kube-proxy would (the rules rewritten). An HTTP/2 channel is one
// long-lived connection, and kube-proxy picks a pod per connection: the new pods get no call until a client
// reconnects. The most common Service load-balancing complaint; the answer is the open connections (issue 26 §4).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvironmentError } from '../core/errors.js';
import { addressing, defaultConfig, nodeName, type LabConfig, type ProxySetup } from '../lab/config.js';
import { setEndpoints, type Lab } from '../lab/lab.js';
import { readFileSync, existsSync } from 'node:fs';
import type { BackendLogLine } from '../lab/traffic-types.js';
import type { Report } from '../report/types.js';
import { countBy, setByteCounters } from './netns-tools.js';
import { backendIp, familyOfLab } from './family.js';
import { joinHostPort } from '../lab/ip-family.js';
import { BYTES_UNAVAILABLE, bytesCell, num, podOf, serviceIn, table } from './format.js';
import type { Scenario, ScenarioContext } from './types.js';

export const GRPC = 'lab/grpc:grpc';
const PORT = 50051;
const FIRST = 3;
const ADDED = 2;
const podScript = fileURLToPath(new URL('./grpc-pod.js', import.meta.url));
/** How long the pods and clients may take to answer their first call. */
const READY_MS = 15_000;

export interface GrpcEvidence {
  /** When the two endpoints were added (ISO). */
  addedAt: string;
  added: string[];
  /** Every call each server logged. */
  calls: BackendLogLine[];
}

function config(setup: ProxySetup): LabConfig {
  const c = defaultConfig(setup);
  c.clients = 3;
  c.externalClients = 0;
  c.backends = Array.from({ length: FIRST + ADDED }, (_, j) => ({ name: `b${j + 1}`, node: nodeName(0) }));
  const web = c.services.find((s) => s.name === 'web')!;
  c.services = [
    {
      ...structuredClone(web),
      name: 'grpc',
      portName: 'grpc',
      clusterIP: '10.96.0.20',
      port: PORT,
      // The lab's HTTP pods listen on their endpoints' ports at lab up; prepare() moves them to the gRPC pods' port.
      endpoints: endpointsOf(c, FIRST, 8080),
    },
  ];
  return c;
}

function endpointsOf(c: Pick<LabConfig, 'backends'>, n: number, port: number) {
  return c.backends.slice(0, n).map((b, j) => ({ ip: addressing.backendIP(j + 1), port, pod: b.name, node: b.node }));
}

/** The first n pods as the gRPC Service's endpoints, in the lab's family (its Services are IPv6-only over IPv6). */
function grpcEndpoints(lab: Lab, n: number) {
  return lab.config.backends.slice(0, n).map((b) => {
    const pod = lab.backends.find((x) => x.name === b.name)!;
    return { ip: backendIp(lab, pod), port: PORT, pod: b.name, node: b.node };
  });
}

/** A grpc-pod process in a namespace, its stdout lines kept; ended at teardown. */
function startPod(ctx: ScenarioContext, netns: string, args: string[]): string[] {
  const lines: string[] = [];
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, podScript, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let rest = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const parts = (rest + d).split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) =>
    lines.push(
      ...d
        .trim()
        .split('\n')
        .map((l) => `stderr ${l}`),
    ),
  );
  child.on('error', () => {});
  ctx.defer(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('close', () => resolve());
        child.kill('SIGTERM');
      }),
  );
  return lines;
}

const logOf = (lab: Lab, pod: string) => join(lab.stateDir, `grpc-${pod}.log`);

function readCalls(lab: Lab): BackendLogLine[] {
  const out: BackendLogLine[] = [];
  for (const b of lab.backends) {
    const f = logOf(lab, b.name);
    if (existsSync(f))
      for (const l of readFileSync(f, 'utf8').split('\n')) if (l) out.push(JSON.parse(l) as BackendLogLine);
  }
  return out;
}

async function until(what: string, ok: () => boolean, signal: AbortSignal, seen: () => string): Promise<void> {
  const end = Date.now() + READY_MS;
  while (!ok()) {
    if (signal.aborted) return;
    if (Date.now() > end)
      throw new EnvironmentError(`grpc-long-lived: ${what} not within ${READY_MS / 1000} s (last lines: ${seen()})`);
    await sleep(100);
  }
}

export const grpcLongLived: Scenario<GrpcEvidence> = {
  name: 'grpc-long-lived',
  seed: 'keepalive-uneven-spread.md',
  summary: 'gRPC channels to a 3-pod Service, then 2 more pods: the new pods get nothing until clients reconnect',
  defaultPhaseMs: 8000,
  config,
  async prepare(ctx) {
    const { lab } = ctx;
    // Bytes per connection (nf_conntrack_acct counts connections that begin after it is on).
    await setByteCounters(ctx);
    // Each server listens on its family's wildcard address only, as the lab's HTTP pods do.
    const any = familyOfLab(lab) === 'IPv6' ? '[::]' : '0.0.0.0';
    for (const b of lab.backends) startPod(ctx, b.netns, ['server', b.name, `${any}:${PORT}`, logOf(lab, b.name)]);
    await setEndpoints(lab, GRPC, grpcEndpoints(lab, FIRST));
    const s = lab.services.find((x) => x.serviceName === GRPC)!;
    ctx.say(`grpc-long-lived: ${lab.clients.length} clients open one channel each to ${GRPC} before the agents start`);
    const answers = lab.clients.map((c) => startPod(ctx, c.netns, ['client', joinHostPort(s.clusterIP, PORT)]));
    await until(
      'an answer to every client',
      () => answers.every((a) => a.some((l) => l.startsWith('pod '))),
      ctx.signal,
      () => answers.map((a, i) => `${lab.clients[i]!.name}: ${a.at(-1) ?? 'nothing'}`).join('; '),
    );
  },
  async traffic(ctx) {
    const { lab } = ctx;
    await sleep(2000, undefined, { signal: ctx.signal }).catch(() => {});
    const addedAt = new Date().toISOString();
    await setEndpoints(lab, GRPC, grpcEndpoints(lab, FIRST + ADDED));
    const added = lab.backends.slice(FIRST).map((b) => b.name);
    ctx.say(`grpc-long-lived: endpoints ${added.join(', ')} added; watching for ${ctx.phaseMs / 1000} s`);
    await sleep(ctx.phaseMs, undefined, { signal: ctx.signal }).catch(() => {});
    return { addedAt, added, calls: readCalls(lab) };
  },
  lookAt: () =>
    `Three clients (c1-c3) each hold one gRPC channel (one HTTP/2 connection) to ${GRPC}, opened before the agents ` +
    `started, calling every 100 ms. Then pods ${FIRST + 1}-${FIRST + ADDED} join the Service. Watch the new pods ` +
    `stay at 0 open connections and 0 calls: kube-proxy picks a pod per connection, and every open connection ` +
    `predates them.`,
  answer: (report: Report, ev: GrpcEvidence, lab: Lab) => {
    const s = serviceIn(report, GRPC);
    const pods = lab.backends.map((b) => b.name);
    const live = new Map((s?.backends ?? []).map((b) => [podOf(lab, b.backend), b.liveConnections ?? 0]));
    const bytes = new Map((s?.backends ?? []).map((b) => [podOf(lab, b.backend), b.bytes ?? 0]));
    const shown = bytesCell(s);
    const calls = countBy(
      ev.calls.filter((c) => c.ts >= ev.addedAt),
      (c) => c.backend,
    );
    return [
      `${GRPC} (${s?.service ?? 'not in the report'}): ${s?.liveConnections ?? 0} open connections, ${s?.selections ?? 0} selections seen.`,
      ...table(
        ['pod', 'open (report)', 'bytes (report)', 'calls after the change (server logs)'],
        pods.map((p) => [p, live.get(p) ?? 0, shown(bytes.get(p)), calls.get(p) ?? 0]),
      ),
      ...(s?.loadSpread && !s.loadSpread.bytes ? [`  bytes: ${BYTES_UNAVAILABLE}`] : []),
      `  ${s?.predatingConnections?.text ?? 'not every open connection predates the newest endpoints'}; spread by open connections maxOverMean ${num(s?.loadSpread?.liveConnections.maxOverMean)}`,
    ];
  },
};
