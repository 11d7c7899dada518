// Backend processes: started detached inside their namespaces so they outlive the
// `lab up` command, and stopped only by the pids the state recorded, after checking
// that the pid still runs our script for this lab (pids get reused).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { EnvironmentError } from '../core/errors.js';
import type { LabConfig } from './config.js';
import { logDirOf, type LabProcess } from './state.js';

export const backendScript = fileURLToPath(new URL('./backend-server.js', import.meta.url));

export interface BackendFiles {
  log: string;
  ready: string;
  stderr: string;
}

export function backendFiles(prefix: string, name: string): BackendFiles {
  const dir = logDirOf(prefix);
  return {
    log: join(dir, `backend-${name}.jsonl`),
    ready: join(dir, `backend-${name}.ready`),
    stderr: join(dir, `backend-${name}.stderr`),
  };
}

/** Every backend listens on every target port of its protocol, so any endpoint works. */
function targetPorts(c: LabConfig, proto: 'tcp' | 'udp'): string {
  const ports = new Set(c.services.filter((s) => s.protocol === proto).flatMap((s) => s.endpoints.map((e) => e.port)));
  return [...ports].sort((a, b) => a - b).join(',');
}

export function startBackend(prefix: string, c: LabConfig, name: string, ip: string, netns: string): LabProcess {
  const f = backendFiles(prefix, name);
  const err = openSync(f.stderr, 'a');
  const args = [
    'netns',
    'exec',
    netns,
    process.execPath,
    backendScript,
    '--name',
    name,
    '--ip',
    ip,
    '--tcp',
    targetPorts(c, 'tcp'),
    '--udp',
    targetPorts(c, 'udp'),
    '--log',
    f.log,
    '--ready',
    f.ready,
  ];
  // `ip netns exec` execs in place, so the child's pid is the server's pid.
  const child = spawn('ip', args, { detached: true, stdio: ['ignore', 'ignore', err] });
  closeSync(err);
  child.unref();
  if (child.pid === undefined)
    throw new EnvironmentError(`failed to start backend ${name} in ${netns}: no pid from spawn`);
  return { name, pid: child.pid, netns };
}

export async function waitReady(
  prefix: string,
  procs: LabProcess[],
  check: () => void,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (const p of procs) {
    const f = backendFiles(prefix, p.name);
    while (!existsSync(f.ready)) {
      check();
      if (!isOurs(p, prefix) || Date.now() > end) {
        const said = existsSync(f.stderr)
          ? readFileSync(f.stderr, 'utf8').trim().split('\n').slice(-3).join(' | ')
          : '';
        throw new EnvironmentError(
          `backend ${p.name} in ${p.netns} did not become ready within ${timeoutMs} ms${said ? ': ' + said : ''}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** True when pid runs a process started for this lab (its command line names the lab's dir). */
export function isOurs(p: LabProcess, prefix: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
    return cmd.includes(logDirOf(prefix) + '/');
  } catch {
    return false;
  }
}

export async function stopProcesses(prefix: string, procs: LabProcess[]): Promise<void> {
  const live = procs.filter((p) => isOurs(p, prefix));
  for (const p of live) process.kill(p.pid, 'SIGTERM');
  const end = Date.now() + 2000;
  while (live.some((p) => isOurs(p, prefix)) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  for (const p of live) if (isOurs(p, prefix)) process.kill(p.pid, 'SIGKILL');
}
