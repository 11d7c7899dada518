// The kernel test matrix: per kernel one VM that runs the probe helper in every attach mode
// against the lab; one row per kernel and mode. A mode the kernel lacks must fail with one
// clear line; a boot failure, missing image or timeout is reported as such, never a pass.
import type { AttachMode } from '../../../src/probe/record-layout.js';
import { checkMode } from './check-lab.js';
import { removeRun, runVm } from './vm.js';

/** What each kernel offers: the modes it has, and what auto mode must pick. */
export const KERNELS: Record<string, { has: Record<AttachMode, boolean>; auto: AttachMode }> = {
  '6.1': { has: { netfilter: false, fentry: true, kprobe: true }, auto: 'fentry' },
  '5.10': { has: { netfilter: false, fentry: false, kprobe: true }, auto: 'kprobe' },
};
const MODES = ['netfilter', 'fentry', 'kprobe', 'auto'] as const;
/** New connections per target (4 targets) from the client, besides 2 dropped and 6 from the node itself. */
const COUNT = 8;
const VM_TIMEOUT_MS = 15 * 60_000;

export type Outcome = 'pass' | 'FAIL' | 'lacks (as expected)' | 'boot failure' | 'no image' | 'timeout';

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
  return row.outcome === 'pass' || row.outcome === 'lacks (as expected)';
}

function oneRow(kernel: string, release: string, dir: string, mode: (typeof MODES)[number]): Row {
  const expect = KERNELS[kernel]!;
  const c = checkMode(dir, mode);
  const row = { kernel, release, arch: 'x86_64', mode, checked: c.checked };
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

export async function runKernel(kernel: string, log: (line: string) => void = () => {}): Promise<Row[]> {
  const run = await runVm(kernel, { modes: MODES.join(' '), count: String(COUNT) }, VM_TIMEOUT_MS, (l) =>
    log(`${kernel}: ${l}`),
  );
  try {
    if (run.status !== 'finished') {
      const outcome: Outcome =
        run.status === 'timeout' ? 'timeout' : run.status === 'no-image' ? 'no image' : 'boot failure';
      return MODES.map((mode) => ({
        kernel,
        release: '?',
        arch: 'x86_64',
        mode,
        outcome,
        checked: 0,
        detail: run.detail,
      }));
    }
    const { readFileSync } = await import('node:fs');
    const release = readFileSync(`${run.results}/release`, 'utf8').trim();
    log(`${kernel}: VM finished in ${run.seconds} s`);
    return MODES.map((mode) => oneRow(kernel, release, run.results, mode));
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
