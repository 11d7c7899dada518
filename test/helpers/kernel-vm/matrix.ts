// The kernel test matrix: per kernel and architecture one VM that runs the probe helper in every
// attach mode against the lab, then with the DaemonSet's capabilities only; one row per kernel,
// mode and capability set. A mode the kernel lacks must fail with one clear line, and so must a
// capability set without PERFMON; a boot failure, missing image or timeout is reported as such,
// never a pass. Each mode's --stats note gives the overhead rows.
import { readFileSync } from 'node:fs';
import type { AttachMode } from '../../../src/probe/record-layout.js';
import { checkMode } from './check-lab.js';
import { type CapSet, capSets, capsLine } from './daemonset-caps.js';
import { type OverheadRow, overheadRow, parseStats } from './overhead.js';
import { removeRun, runVm, type VmArch } from './vm.js';

/** What each kernel offers: the architectures it is built for, the modes it has, what auto mode must pick. */
export const KERNELS: Record<string, { arches: VmArch[]; has: Record<AttachMode, boolean>; auto: AttachMode }> = {
  '6.1': { arches: ['x86_64', 'arm64'], has: { netfilter: false, fentry: true, kprobe: true }, auto: 'fentry' },
  '5.10': { arches: ['x86_64'], has: { netfilter: false, fentry: false, kprobe: true }, auto: 'kprobe' },
};
const MODES = ['netfilter', 'fentry', 'kprobe', 'auto'] as const;
/** New connections per target (4 targets) from the client, besides 2 dropped and 6 from the node itself. */
const COUNT = 8;
const VM_TIMEOUT_MS = 15 * 60_000;

export type Outcome =
  | 'pass'
  | 'FAIL'
  | 'lacks (as expected)'
  | 'refused (as expected)'
  | 'boot failure'
  | 'no image'
  | 'timeout';

export interface Row {
  kernel: string;
  release: string;
  arch: string;
  mode: string;
  outcome: Outcome;
  checked: number;
  detail: string;
}

export function ok(row: Row): boolean {
  return row.outcome === 'pass' || row.outcome === 'lacks (as expected)' || row.outcome === 'refused (as expected)';
}

function oneRow(kernel: string, release: string, arch: string, dir: string, mode: (typeof MODES)[number]): Row {
  const expect = KERNELS[kernel]!;
  const c = checkMode(dir, mode);
  const row = { kernel, release, arch, mode, checked: c.checked };
  const failures = c.stderr.filter((l) => l.startsWith('stickyscope-probe: failed to '));
  if (mode !== 'auto' && !expect.has[mode]) {
    if (c.attached) return { ...row, outcome: 'FAIL', detail: `attached although the kernel should lack ${mode}` };
    const clear = failures.length === 1 && c.stderr.length === 1 && c.exitCode === 6;
    return clear
      ? { ...row, outcome: 'lacks (as expected)', detail: failures[0]! }
      : {
          ...row,
          outcome: 'FAIL',
          detail: `expected one failure line and exit 6, got exit ${c.exitCode}: ${c.stderr.join(' | ')}`,
        };
  }
  if (!c.attached)
    return { ...row, outcome: 'FAIL', detail: `did not attach: ${c.stderr.join(' | ') || 'no message'}` };
  const wanted = mode === 'auto' ? expect.auto : mode;
  const problems = [...c.failures];
  if (c.attachMode !== wanted) problems.unshift(`attached as ${c.attachMode}, expected ${wanted}`);
  if (c.exitCode !== 0) problems.push(`helper exited ${c.exitCode} after SIGTERM`);
  if (failures.length) problems.push(...failures);
  return problems.length
    ? {
        ...row,
        outcome: 'FAIL',
        detail: problems.slice(0, 5).join('; ') + (problems.length > 5 ? ` (+${problems.length - 5})` : ''),
      }
    : { ...row, outcome: 'pass', detail: c.attachPoints.join(', ') };
}

/**
 * The helper as root with only the set's capabilities: the DaemonSet's set must attach and pass the
 * lab; the set without one capability must fail, exit non-zero, and name the missing capability.
 */
function capsRow(kernel: string, release: string, arch: string, dir: string, set: CapSet): Row {
  const c = checkMode(dir, set.name);
  const mode = `${set.mode}, caps ${set.caps.join(',')}`;
  const row = { kernel, release, arch, mode, checked: c.checked };
  const failures = c.stderr.filter((l) => l.startsWith('stickyscope-probe: failed to '));
  if (set.without) {
    if (c.attached) return { ...row, outcome: 'FAIL', detail: `attached without CAP_${set.without}` };
    const named = failures.length === 1 && failures[0]!.includes(`missing CAP_${set.without}`);
    return named && c.exitCode !== 0
      ? { ...row, outcome: 'refused (as expected)', detail: failures[0]! }
      : {
          ...row,
          outcome: 'FAIL',
          detail: `expected one failure line naming CAP_${set.without} as missing, got exit ${c.exitCode}: ${c.stderr.join(' | ')}`,
        };
  }
  if (!c.attached)
    return {
      ...row,
      outcome: 'FAIL',
      detail: `did not attach with the DaemonSet's capabilities: ${c.stderr.join(' | ') || 'no message'}`,
    };
  const problems = [...c.failures, ...failures];
  if (c.attachMode !== set.mode) problems.unshift(`attached as ${c.attachMode}, expected ${set.mode}`);
  if (c.exitCode !== 0) problems.push(`helper exited ${c.exitCode} after SIGTERM`);
  return problems.length
    ? { ...row, outcome: 'FAIL', detail: problems.slice(0, 5).join('; ') }
    : { ...row, outcome: 'pass', detail: c.attachPoints.join(', ') };
}

export interface KernelRun {
  rows: Row[];
  overhead: OverheadRow[];
  seconds: number;
}

export async function runKernel(
  kernel: string,
  log: (line: string) => void = () => {},
  arch: VmArch = 'x86_64',
): Promise<KernelRun> {
  const expect = KERNELS[kernel]!;
  const sets = capSets((['fentry', 'kprobe'] as const).filter((m) => expect.has[m]));
  const settings = { modes: MODES.join(' '), count: String(COUNT), caps: sets.map(capsLine).join('\n') };
  const run = await runVm(kernel, settings, VM_TIMEOUT_MS, (l) => log(`${kernel} ${arch}: ${l}`), arch);
  try {
    if (run.status !== 'finished') {
      const outcome: Outcome =
        run.status === 'timeout' ? 'timeout' : run.status === 'no-image' ? 'no image' : 'boot failure';
      const failed = (mode: string): Row => ({
        kernel,
        release: '?',
        arch,
        mode,
        outcome,
        checked: 0,
        detail: run.detail,
      });
      return {
        rows: [...MODES.map(failed), ...sets.map((s) => failed(`${s.mode}, caps ${s.caps.join(',')}`))],
        overhead: [],
        seconds: run.seconds,
      };
    }
    const release = readFileSync(`${run.results}/release`, 'utf8').trim();
    const machine = readFileSync(`${run.results}/machine`, 'utf8').trim();
    log(`${kernel} ${arch}: VM finished in ${run.seconds} s`);
    const rows = [
      ...MODES.map((mode) => oneRow(kernel, release, machine, run.results, mode)),
      ...sets.map((s) => capsRow(kernel, release, machine, run.results, s)),
    ];
    const overhead = MODES.flatMap((mode) => {
      const stats = parseStats(checkMode(run.results, mode).stderr);
      const row = stats && mode !== 'auto' ? overheadRow(kernel, machine, mode, stats) : undefined;
      return row ? [row] : [];
    });
    return { rows, overhead, seconds: run.seconds };
  } finally {
    removeRun(run);
  }
}

export function table(rows: Row[]): string {
  const head = ['kernel', 'release', 'arch', 'mode', 'result', 'connections checked'];
  const cells = rows.map((r) => [r.kernel, r.release, r.arch, r.mode, r.outcome, String(r.checked)]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(width[i]!)).join(' | ')} |`;
  return [line(head), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
