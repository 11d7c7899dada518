// Backend processes: started detached inside their namespaces so they outlive the
// `lab up` command, and stopped by scanning for processes whose command line names
// this lab's dir (pids the state recorded may be missing after a killed set-up, or reused).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
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

/** `ip6`: the backend's IPv6 address in a dual-stack lab; it then serves both families. */
export function startBackend(
  prefix: string,
  c: LabConfig,
  name: string,
  ip: string,
  netns: string,
  ip6?: string,
): LabProcess {
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
    ...(ip6 ? ['--ip6', ip6] : []),
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
      if (!isOurs(p.pid, prefix) || Date.now() > end) {
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
export function isOurs(pid: number, prefix: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes(logDirOf(prefix) + '/');
  } catch {
    return false;
  }
}

/**
 * Every live process started for this lab, found by scanning /proc for its command
 * line: it names the lab's dir from the moment `ip netns exec` runs, before `lab up`
 * could write its pid to the state, so a set-up killed at any point leaves none unfound.
 */
function labProcesses(prefix: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (isOurs(pid, prefix)) pids.push(pid);
  }
  return pids;
}

/** Ends every process of the lab (SIGTERM, then SIGKILL after 2 s) and returns once all are gone. */
export async function stopProcesses(prefix: string): Promise<void> {
  const ours = (pid: number) => isOurs(pid, prefix);
  const live = labProcesses(prefix);
  for (const pid of live) signal(pid, 'SIGTERM');
  const end = Date.now() + 2000;
  while (live.some(ours) && Date.now() < end) await sleep(20);
  for (const pid of live.filter(ours)) signal(pid, 'SIGKILL');
  while (live.some(ours)) await sleep(10);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    // Gone between the scan and the signal: that is what we want.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
