// Kernel time per BPF program: kernel.bpf_stats_enabled is switched on only while a measurement needs it (it costs
// two clock reads per program run) and restored after, on failure and interruption too; run_time_ns and run_cnt are
// read from /proc/PID/fdinfo of the probe helper's own program descriptors, so other probes on the machine are not
// counted.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { run } from '../../src/lab/exec.js';
import { onCleanup } from './procs.js';

const SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

export interface ProgRuns {
  id: number;
  name: string;
  runTimeNs: number;
  runCnt: number;
}

let restore: string | null = null;

function put(value: string): void {
  writeFileSync(SYSCTL, value);
}

/** Runs `work` with bpf_stats on, restoring the setting found; a clean-up step restores it if the bench is killed mid-way. */
export async function withBpfStats<T>(work: () => Promise<T>): Promise<T> {
  const old = readFileSync(SYSCTL, 'utf8').trim();
  if (restore === null) onCleanup(() => void (restore !== null && put(restore)));
  restore = old;
  put('1');
  try {
    return await work();
  } finally {
    put(old);
    restore = null;
  }
}

const names = new Map<number, string>();

async function progName(id: number): Promise<string> {
  let name = names.get(id);
  if (name === undefined) {
    const out = JSON.parse(await run('bpftool', ['prog', 'show', 'id', String(id), '-j'])) as { name?: string };
    name = out.name ?? `prog ${id}`;
    names.set(id, name);
  }
  return name;
}

/** The programs process `pid` holds descriptors of (each once, though it may hold several links to it). */
export async function progRuns(pid: number): Promise<ProgRuns[]> {
  const byId = new Map<number, ProgRuns>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    // Program descriptors carry run_time_ns; link descriptors name a prog_id too but no counts.
    const runTime = /^run_time_ns:\s+(\d+)/m.exec(info);
    const id = /^prog_id:\s+(\d+)/m.exec(info);
    const cnt = /^run_cnt:\s+(\d+)/m.exec(info);
    if (!runTime || !id || !cnt) continue;
    const n = Number(id[1]);
    byId.set(n, { id: n, name: await progName(n), runTimeNs: Number(runTime[1]), runCnt: Number(cnt[1]) });
  }
  return [...byId.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** after - before per program (by id). */
export function progDelta(after: ProgRuns[], before: ProgRuns[]): ProgRuns[] {
  return after.map((a) => {
    const b = before.find((x) => x.id === a.id);
    return { ...a, runTimeNs: a.runTimeNs - (b?.runTimeNs ?? 0), runCnt: a.runCnt - (b?.runCnt ?? 0) };
  });
}
