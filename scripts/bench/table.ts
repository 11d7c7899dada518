// One table per run: every figure beside its target, PASS or MISS.
export interface Row {
  section: string;
  figure: string;
  measured: string;
  target?: string;
  /** Undefined: informative, no target. */
  pass?: boolean;
}

export function renderTable(rows: Row[]): string {
  const head = ['section', 'figure', 'measured', 'target', 'verdict'];
  const cells = rows.map((r) => [
    r.section,
    r.figure,
    r.measured,
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => '| ' + c.map((x, i) => x.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.map(line)].join('\n');
}

export const num = (n: number) => Math.round(n).toLocaleString('en-US');
export const pct = (x: number) => `${(100 * x).toFixed(x === 1 || x === 0 ? 0 : 2)}%`;
