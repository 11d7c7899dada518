// What may be attached to the node while the flood runs: nothing, the probe helper
// alone (its records to a file), stickyscope's agent and aggregator, or `conntrack -E`.
// Each consumer counts what it received, to compare with what the kernel did.
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvironmentError } from '../../src/core/errors.js';
import { helperPath } from '../../src/probe/probe.js';
import { RECORD_SIZE, RecordType, Off } from '../../src/probe/record-layout.js';
import { checkAborted, hasExited, stopChild, track } from './procs.js';
import type { BenchLab } from './bench-lab.js';
import { Worker, type CpuSeconds } from './worker.js';

export interface Consumer {
  /** Waits for what is in flight (up to `expected`), stops, and says how many flows (dnat events, conntrack NEW lines) arrived. */
  finish(expected: number): Promise<number>;
  /** Stops without counting (idempotent). */
  stop(): Promise<void>;
}

/** Polls `count` until it stops changing for `quietMs` (or reaches `target`). */
export async function settle(
  count: () => Promise<number>,
  target: number,
  quietMs = 600,
  maxMs = 8000,
): Promise<number> {
  const end = Date.now() + maxMs;
  let last = await count();
  let since = Date.now();
  while (last < target && Date.now() < end) {
    await sleep(100);
    checkAborted();
    const now = await count();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) break;
  }
  return last;
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    checkAborted();
    if (Date.now() > end) throw new EnvironmentError(`failed to start ${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** The probe helper with its records going straight to `file`: the datapath cost, no decoding. */
export async function startHelperToFile(b: BenchLab, file: string, extra: string[] = []): Promise<Consumer> {
  const fd = openSync(file, 'w');
  // stdin stays open: the helper exits at its EOF, i.e. when the bench goes away.
  // As the agent runs it: no insert records.
  const child = track(helperPath(), ['--netns', b.nodeNetns, '--no-insert', ...extra], {
    stdio: ['pipe', fd, 'pipe'],
  });
  closeSync(fd);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  await waitFor(() => statSync(file).size >= RECORD_SIZE || hasExited(child), 'the probe helper');
  if (hasExited(child)) throw new EnvironmentError(`failed to attach the probe helper: ${err.trim()}`);
  return {
    async finish() {
      // The helper drains its ring buffer and writes the last records before it exits.
      await stopChild(child);
      return countRecords(file, RecordType.dnat);
    },
    stop: () => stopChild(child),
  };
}

/** Records of `type` in a helper output file. */
export function countRecords(file: string, type: number): number {
  const buf = readFileSync(file);
  let n = 0;
  for (let o = Off.type; o < buf.length; o += RECORD_SIZE) if (buf[o] === type) n++;
  return n;
}

export interface AgentStats {
  events: number;
  dnat: number;
  lost: number;
  cpu: CpuSeconds;
  helperCpu: number;
}

export interface AggregatorStats {
  events: number;
  dnat: number;
  lost: number;
  firstMs: number;
  lastMs: number;
  pairs: number;
  cpu: CpuSeconds;
  /** Kernel timestamp -> in the aggregator's state (or, count-only, -> received), per dnat event: see latency.ts. */
  latency: number[];
}

export interface Stickyscope {
  agent: Worker<{ address: string; helperPid: number | null }, AgentStats>;
  /** The aggregator, or with countOnly a subscriber that only counts. */
  aggregator: Worker<{ up: true }, AggregatorStats>;
  stop(): Promise<void>;
}

/**
 * A real agent on the node and an aggregator subscribed to it over gRPC, mutual TLS as deployed; `countOnly` puts a
 * subscriber that only counts in the aggregator's place; `replay` runs that stand-in for the probe helper.
 */
export async function startStickyscope(
  b: BenchLab,
  opts: { replay?: string; countOnly?: boolean } = {},
): Promise<Stickyscope> {
  const { replay } = opts;
  const node = b.lab.nodes[0]!;
  // STICKYSCOPE_BENCH_PLAINTEXT=1: the same without TLS, to see what TLS costs.
  const tls = process.env.STICKYSCOPE_BENCH_PLAINTEXT === '1' ? undefined : b.lab.tls;
  const agent = new Worker<{ address: string; helperPid: number | null }, AgentStats>('agent-worker', [
    '--netns',
    b.nodeNetns,
    '--node',
    node,
    ...(replay ? ['--replay', replay] : []),
    ...(tls?.agentArgs(0) ?? []),
  ]);
  const { address } = await agent.ready;
  const aggregator = new Worker<{ up: true }, AggregatorStats>('aggregator-worker', [
    address,
    ...(opts.countOnly ? ['--count-only'] : []),
    ...(tls ? ['--node', node, '--ca', tls.client.ca, '--cert', tls.client.cert, '--key', tls.client.key] : []),
  ]);
  await aggregator.ready;
  return {
    agent,
    aggregator,
    async stop() {
      await aggregator.stop();
      await agent.stop();
    },
  };
}

/** `conntrack -E -e NEW` in the node netns, as a user would run it, its output to `file`. */
export async function startConntrackEvents(b: BenchLab, file: string): Promise<Consumer & { enobufs(): boolean }> {
  const fd = openSync(file, 'w');
  const child = track('ip', ['netns', 'exec', b.lab.nodes[0]!, 'conntrack', '-E', '-e', 'NEW'], {
    stdio: ['ignore', fd, 'pipe'],
  });
  closeSync(fd);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
  // It prints nothing once subscribed; give it time to bind its netlink socket.
  await sleep(400);
  checkAborted();
  if (hasExited(child)) throw new EnvironmentError(`failed to start conntrack -E: ${err.trim()}`);
  const lines = () => {
    const buf = readFileSync(file);
    let n = 0;
    for (let i = buf.indexOf('[NEW]'); i >= 0; i = buf.indexOf('[NEW]', i + 5)) n++;
    return n;
  };
  return {
    async finish() {
      // Its output is block-buffered into the file: what it printed is complete once it has exited.
      await settle(async () => statSync(file).size, Infinity, 400, 3000);
      await stopChild(child);
      return lines();
    },
    enobufs: () => /ENOBUFS/.test(err),
    stop: () => stopChild(child),
  };
}
