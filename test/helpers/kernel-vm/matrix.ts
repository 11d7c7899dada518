// The kernel test matrix: per kernel and architecture one VM that runs the probe helper in every
// attach mode against the lab, then with the DaemonSet's capabilities only; one row per kernel,
// mode and capability set. A mode the kernel lacks must fail with one clear line, and so must a
// capability set without PERFMON; a boot failure, missing image or timeout is reported as such,
// never a pass. Each mode's --stats note gives the overhead rows.
import { readFileSync } from 'node:fs';
import type { AttachMode } from '../../../src/probe/record-layout.js';
import { checkMode } from './check-lab.js';
import { type CapSet, capSets, capsLine } from './daemonset-caps.js';
import { type OverheadRow, overheadRows } from './overhead.js';
import { removeRun, runVm, type VmArch } from './vm.js';

/** What a kernel on one architecture offers: the modes it has, and what auto mode must pick. */
export interface KernelSpec {
  has: Record<AttachMode, boolean>;
  auto: AttachMode;
  /** Before 5.11: BPF memory counts against RLIMIT_MEMLOCK. */
  memlock: boolean;
}

/** Per kernel, the architectures it is tested on. */
export const KERNELS: Record<string, Partial<Record<VmArch, KernelSpec>>> = {
  '6.1': {
    x86_64: { has: { netfilter: false, fentry: true, kprobe: true }, auto: 'fentry', memlock: false },
    // arm64 attaches BPF trampolines to kernel functions from 6.4 (ftrace direct calls): 6.1 says ENOTSUPP
    arm64: { has: { netfilter: false, fentry: false, kprobe: true }, auto: 'kprobe', memlock: false },
  },
  '5.10': { x86_64: { has: { netfilter: false, fentry: false, kprobe: true }, auto: 'kprobe', memlock: true } },
};

/** The kernels tested on arch. */
export function kernelsFor(arch: VmArch): string[] {
  return Object.keys(KERNELS).filter((k) => KERNELS[k]![arch]);
}
const MODES = ['netfilter', 'fentry', 'kprobe', 'auto'] as const;
/** The run without nf_conntrack_netlink (scripts/vm/run.sh, last). */
const NO_CTNETLINK = 'no-ctnetlink';
/** New connections per target (4 targets) from the client, besides 2 dropped and 6 from the node itself. */
const COUNT = 8;
const VM_TIMEOUT_MS = 15 * 60_000;
/** New flows per overhead run: enough that the first calls (slow under emulation) weigh little. */
const FLOOD_COUNT = 3000;

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

function oneRow(
  kernel: string,
  expect: KernelSpec,
  release: string,
  arch: string,
  dir: string,
  mode: (typeof MODES)[number],
): Row {
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
    : { ...row, outcome: 'pass', detail: [c.attachPoints.join(', '), ...c.notes].join('; ') };
}

/**
 * The helper as root with only the set's capabilities: the DaemonSet's set must attach and pass the
 * lab; the set without one capability must fail, exit non-zero, and name the missing capability.
 */
function capsRow(kernel: string, release: string, arch: string, dir: string, set: CapSet): Row {
  const c = checkMode(dir, set.name);
  const mode = `${set.mode}, ${set.label} (${set.caps.join(',')})`;
  const row = { kernel, release, arch, mode, checked: c.checked };
  const failures = c.stderr.filter((l) => l.startsWith('stickyscope-probe: failed to '));
  if (set.missing) {
    if (c.attached) return { ...row, outcome: 'FAIL', detail: `attached without CAP_${set.missing}` };
    const named = failures.length === 1 && new RegExp(`missing [A-Z_, ]*CAP_${set.missing}`).test(failures[0]!);
    return named && c.exitCode !== 0
      ? { ...row, outcome: 'refused (as expected)', detail: failures[0]! }
      : {
          ...row,
          outcome: 'FAIL',
          detail: `expected one failure line naming CAP_${set.missing} as missing, got exit ${c.exitCode}: ${c.stderr.join(' | ')}`,
        };
  }
  if (!c.attached)
    return {
      ...row,
      outcome: 'FAIL',
      detail: `did not attach: ${c.stderr.join(' | ') || 'no message'}`,
    };
  const problems = [...c.failures, ...failures];
  if (c.attachMode !== set.mode) problems.unshift(`attached as ${c.attachMode}, expected ${set.mode}`);
  if (c.exitCode !== 0) problems.push(`helper exited ${c.exitCode} after SIGTERM`);
  return problems.length
    ? { ...row, outcome: 'FAIL', detail: problems.slice(0, 5).join('; ') }
    : { ...row, outcome: 'pass', detail: c.attachPoints.join(', ') };
}

/**
 * The helper with nf_conntrack_netlink removed and its loading refused: it must attach, say in one line that live
 * connections are not followed, and trace the lab's new connections as the backends logged them.
 */
function noCtNetlinkRow(kernel: string, release: string, arch: string, dir: string): Row {
  const c = checkMode(dir, NO_CTNETLINK);
  const row = { kernel, release, arch, mode: 'auto, without nf_conntrack_netlink', checked: c.checked };
  if (!c.attached)
    return { ...row, outcome: 'FAIL', detail: `did not attach: ${c.stderr.join(' | ') || 'no message'}` };
  const said = c.stderr.filter((l) =>
    /live connections are not followed: failed to (open a conntrack netlink socket|read the conntrack table)/.test(l),
  );
  const problems = [...c.failures];
  if (said.length !== 1)
    problems.push(`expected one line saying live connections are not followed; got ${c.stderr.join(' | ')}`);
  if (c.liveRecords) problems.push(`${c.liveRecords} live-connection records without a conntrack source`);
  if (c.exitCode !== 0) problems.push(`helper exited ${c.exitCode} after SIGTERM`);
  if (c.checked === 0) problems.push('no connection checked');
  return problems.length
    ? { ...row, outcome: 'FAIL', detail: problems.slice(0, 5).join('; ') }
    : { ...row, outcome: 'pass', detail: said[0]! };
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
  const expect = KERNELS[kernel]?.[arch];
  if (!expect) throw new Error(`no ${arch} kernel ${kernel} in the matrix; expected ${kernelsFor(arch).join(', ')}`);
  const sets = capSets(
    (['fentry', 'kprobe'] as const).filter((m) => expect.has[m]),
    expect.memlock,
  );
  const overheadModes = (['fentry', 'kprobe'] as const).filter((m) => expect.has[m]);
  const settings = {
    modes: MODES.join(' '),
    count: String(COUNT),
    caps: sets.map(capsLine).join('\n'),
    overhead: overheadModes.join(' '),
    'flood-count': String(FLOOD_COUNT),
  };
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
        rows: [...MODES.map(failed), ...sets.map((s) => failed(`${s.mode}, ${s.label}`)), failed(NO_CTNETLINK)],
        overhead: [],
        seconds: run.seconds,
      };
    }
    const release = readFileSync(`${run.results}/release`, 'utf8').trim();
    const machine = readFileSync(`${run.results}/machine`, 'utf8').trim();
    log(`${kernel} ${arch}: VM finished in ${run.seconds} s`);
    const rows = [
      ...MODES.map((mode) => oneRow(kernel, expect, release, machine, run.results, mode)),
      ...sets.map((s) => capsRow(kernel, release, machine, run.results, s)),
      noCtNetlinkRow(kernel, release, machine, run.results),
    ];
    const overhead = overheadRows(kernel, machine, run.results, overheadModes);
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
