// One real `stickyscope agent` per lab node, started through the executable as a user
// would, known by pid only, and stopped by that pid (its probe helper exits with it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { EnvironmentError } from '../core/errors.js';
import { infoMethod } from '../protocol/service-def.js';
import { clientLink, type ClientTls } from '../protocol/tls.js';
import type { AgentInfo } from '../protocol/wire.js';
import type { Lab } from '../lab/lab.js';

/** The executable, from dist/src/scenarios/. */
export const stickyscopeBin = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));

export interface RunningAgent {
  node: string;
  address: string;
  child: ChildProcess;
  /** The end of what it printed on stderr. */
  stderr(): string;
}

const READY_MS = 20_000;

export function exited(c: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
  );
}

/** Ends a child we started: `sig`, then SIGKILL after `graceMs`. */
export async function stopChild(c: ChildProcess, sig: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = exited(c);
  c.kill(sig);
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Starts the agents one by one; `started` receives each as soon as it exists, so teardown can stop it. */
export async function startAgents(
  lab: Lab,
  started: (a: ChildProcess) => void,
  signal: AbortSignal,
): Promise<RunningAgent[]> {
  const out: RunningAgent[] = [];
  for (const [i, node] of lab.nodes.entries()) {
    const readyFile = join(lab.stateDir, `scenario-agent-${i}.ready`);
    const child = spawn(
      process.execPath,
      [
        stickyscopeBin,
        'agent',
        '--netns',
        lab.nodeNetnsPath(i),
        '--listen',
        '127.0.0.1:0',
        '--node-name',
        node,
        '--ready-file',
        readyFile,
        // The pods' names, as --k8s would give them: the TUI and reports name b1, b2, ... rather than addresses.
        '--pods',
        lab.podsFile,
        // Open connections' bytes within a short phase: a sweep every 2 s (the lab's tables are small).
        '--conntrack-sweep',
        '2s',
        ...lab.tls.agentArgs(i),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    started(child);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
    const end = Date.now() + READY_MS;
    while (!existsSync(readyFile)) {
      if (signal.aborted) throw new EnvironmentError('interrupted while the agents were starting');
      if (child.exitCode !== null || child.signalCode !== null)
        throw new EnvironmentError(
          `failed to start the agent for ${node}: it exited (${child.exitCode ?? child.signalCode}): ${err.trim() || 'no output'}`,
        );
      if (Date.now() > end)
        throw new EnvironmentError(
          `failed to start the agent for ${node}: no ready file after ${READY_MS / 1000} s: ${err.trim() || 'no output'}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    out.push({ node, address: readFileSync(readyFile, 'utf8').trim(), child, stderr: () => err });
  }
  return out;
}

/** The agent's Info answer (subscribers, services in its catalog, ...), over mutual TLS when `tls` is given. */
export function agentInfo(address: string, tls?: ClientTls, node?: string): Promise<AgentInfo> {
  const link = tls ? clientLink(tls, node) : { credentials: grpc.credentials.createInsecure(), options: {} };
  const client = new grpc.Client(address, link.credentials, link.options);
  return new Promise<AgentInfo>((resolve, reject) => {
    client.makeUnaryRequest(
      infoMethod.path,
      infoMethod.requestSerialize,
      infoMethod.responseDeserialize,
      {},
      { deadline: Date.now() + 2000 },
      (err, value?: AgentInfo) =>
        err || !value
          ? reject(
              new EnvironmentError(`failed to ask agent ${address} for its info: ${err?.message ?? 'empty answer'}`),
            )
          : resolve(value),
    );
  }).finally(() => client.close());
}
