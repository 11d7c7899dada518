// The overhead rows of the kernel matrix: in one VM, the same flood of new UDP flows through a
// Service without the helper and under each attach mode (scripts/vm/run.sh). Per mode: the flood's
// rate against the untraced one (the whole tracing path: trap or trampoline and programs), the
// kernel's run time of the programs per confirmation and the helper's CPU time per record (its
// --stats note), as ratios to kprobe: emulation stretches every absolute time.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const STATS_PREFIX = 'stickyscope-probe: note: stats: ';

export interface ModeStats {
  records: number;
  /** The helper's user + system CPU time after attaching. */
  cpuUs: number;
  runTime: boolean;
  progs: Record<string, { runs: number; ns: number; misses: number }>;
}

/** The stats note among the helper's stderr lines, if it printed one. */
export function parseStats(stderr: string[]): ModeStats | undefined {
  const line = stderr.find((l) => l.startsWith(STATS_PREFIX));
  if (!line) return undefined;
  const kv = new Map<string, string>();
  for (const token of line.slice(STATS_PREFIX.length).split(' ')) {
    const eq = token.indexOf('=');
    if (eq > 0) kv.set(token.slice(0, eq), token.slice(eq + 1));
  }
  const progs: ModeStats['progs'] = {};
  for (const [key, value] of kv) {
    const m = /^prog\.(.+)\.(runs|ns|misses)$/.exec(key);
    if (!m) continue;
    progs[m[1]!] ??= { runs: 0, ns: 0, misses: 0 };
    progs[m[1]!]![m[2] as 'runs' | 'ns' | 'misses'] = Number(value);
  }
  return {
    records: Number(kv.get('records') ?? 0),
    cpuUs: Number(kv.get('cpu_us') ?? 0),
    runTime: kv.get('run_time') === 'on',
    progs,
  };
}

export interface OverheadRow {
  kernel: string;
  arch: string;
  /** An attach mode, or 'none' for the flood without the helper. */
  mode: string;
  flows: number;
  /** Flows per second the flood reached. */
  rate: number | undefined;
  /** Calls of the entry program: conntrack confirmations seen, in every namespace. */
  confirms?: number;
  /** Kernel run time of the entry and return programs together, per confirmation. */
  bpfNsPerConfirm?: number;
  records?: number;
  cpuUsPerRecord?: number;
  /** Why the row lacks numbers it should have. */
  problem?: string;
}

const PROGRAMS: Record<string, [string, string]> = {
  fentry: ['ss_fentry_confirm', 'ss_fexit_confirm'],
  kprobe: ['ss_kprobe_confirm', 'ss_kretprobe_confirm'],
};

function read(dir: string, name: string): string {
  const p = join(dir, name);
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

function flood(text: string): { sent: number; seconds: number } | undefined {
  try {
    const r = JSON.parse(text.trim().split('\n').at(-1) ?? '') as { sent?: unknown; seconds?: unknown };
    return typeof r.sent === 'number' && typeof r.seconds === 'number'
      ? { sent: r.sent, seconds: r.seconds }
      : undefined;
  } catch {
    return undefined;
  }
}

export function overheadRows(kernel: string, arch: string, dir: string, modes: readonly string[]): OverheadRow[] {
  return ['none', ...modes].map((mode): OverheadRow => {
    const f = flood(read(dir, `overhead-${mode}.flood`));
    const row: OverheadRow = {
      kernel,
      arch,
      mode,
      flows: f?.sent ?? 0,
      rate: f && f.seconds > 0 ? f.sent / f.seconds : undefined,
    };
    if (!f)
      return {
        ...row,
        problem: `the flood printed no result: ${read(dir, `overhead-${mode}.flood`).trim() || 'nothing'}`,
      };
    if (mode === 'none') return row;
    const stderr = read(dir, `overhead-${mode}.err`).split('\n').filter(Boolean);
    const s = parseStats(stderr);
    const [entryName, returnName] = PROGRAMS[mode]!;
    const entry = s?.progs[entryName];
    const ret = s?.progs[returnName];
    if (!s || !entry || !ret)
      return { ...row, problem: `no stats from the helper: ${stderr.join(' | ') || 'no message'}` };
    const problem = s.runTime ? undefined : 'BPF run-time statistics were off';
    return {
      ...row,
      confirms: entry.runs,
      bpfNsPerConfirm: s.runTime && entry.runs ? (entry.ns + ret.ns) / entry.runs : undefined,
      records: s.records,
      cpuUsPerRecord: s.records ? s.cpuUs / s.records : undefined,
      ...(problem ? { problem } : {}),
    };
  });
}

function ratio(x: number | undefined, base: number | undefined): string {
  return x === undefined || !base ? '-' : `${(x / base).toFixed(2)}x`;
}

const num = (x: number | undefined, digits = 0) => (x === undefined ? '-' : x.toFixed(digits));

export function overheadTable(rows: OverheadRow[]): string {
  const head = [
    'kernel',
    'arch',
    'mode',
    'flows',
    'flood rate vs untraced',
    'confirms',
    'BPF ns/confirm',
    'vs kprobe',
    'records',
    'helper CPU us/record',
    'vs kprobe',
  ];
  const cells = rows.map((r) => {
    const same = (m: string) => rows.find((b) => b.kernel === r.kernel && b.arch === r.arch && b.mode === m);
    const kprobe = same('kprobe');
    return [
      r.kernel,
      r.arch,
      r.mode,
      String(r.flows),
      ratio(r.rate, same('none')?.rate),
      r.confirms === undefined ? '-' : String(r.confirms),
      num(r.bpfNsPerConfirm),
      ratio(r.bpfNsPerConfirm, kprobe?.bpfNsPerConfirm),
      r.records === undefined ? '-' : String(r.records),
      num(r.cpuUsPerRecord, 1),
      ratio(r.cpuUsPerRecord, kprobe?.cpuUsPerRecord),
    ];
  });
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(width[i]!)).join(' | ')} |`;
  return [line(head), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
