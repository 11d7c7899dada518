// The overhead table of the kernel matrix: per attach mode, the helper's --stats note (the kernel's
// run time of each program while BPF statistics were on, and the helper's CPU time since attaching),
// as ratios to the kprobe mode of the same VM run: emulation stretches every absolute time.

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
  mode: string;
  /** Calls of the entry program: conntrack confirmations seen, in every namespace. */
  confirms: number;
  /** Kernel run time of the entry and return programs together, per confirmation. */
  bpfNsPerConfirm: number | undefined;
  records: number;
  cpuUsPerRecord: number | undefined;
}

const ENTRY: Record<string, [string, string]> = {
  fentry: ['ss_fentry_confirm', 'ss_fexit_confirm'],
  kprobe: ['ss_kprobe_confirm', 'ss_kretprobe_confirm'],
  netfilter: ['ss_dnat', 'ss_confirm'],
};

export function overheadRow(kernel: string, arch: string, mode: string, s: ModeStats): OverheadRow | undefined {
  const names = ENTRY[mode];
  const entry = names && s.progs[names[0]];
  const ret = names && s.progs[names[1]];
  if (!entry || !ret) return undefined;
  // netfilter's two programs run at different hooks: per confirmation is the confirm program's count
  const confirms = mode === 'netfilter' ? ret.runs : entry.runs;
  return {
    kernel,
    arch,
    mode,
    confirms,
    bpfNsPerConfirm: s.runTime && confirms ? (entry.ns + ret.ns) / confirms : undefined,
    records: s.records,
    cpuUsPerRecord: s.records ? s.cpuUs / s.records : undefined,
  };
}

function ratio(x: number | undefined, base: number | undefined): string {
  return x === undefined || !base ? '-' : `${(x / base).toFixed(2)}x`;
}

export function overheadTable(rows: OverheadRow[]): string {
  const head = [
    'kernel',
    'arch',
    'mode',
    'confirms',
    'BPF ns/confirm',
    'vs kprobe',
    'records',
    'helper CPU us/record',
    'vs kprobe',
  ];
  const cells = rows.map((r) => {
    const base = rows.find((b) => b.kernel === r.kernel && b.arch === r.arch && b.mode === 'kprobe');
    return [
      r.kernel,
      r.arch,
      r.mode,
      String(r.confirms),
      r.bpfNsPerConfirm === undefined ? '-' : r.bpfNsPerConfirm.toFixed(0),
      ratio(r.bpfNsPerConfirm, base?.bpfNsPerConfirm),
      String(r.records),
      r.cpuUsPerRecord === undefined ? '-' : r.cpuUsPerRecord.toFixed(0),
      ratio(r.cpuUsPerRecord, base?.cpuUsPerRecord),
    ];
  });
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(width[i]!)).join(' | ')} |`;
  return [line(head), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
