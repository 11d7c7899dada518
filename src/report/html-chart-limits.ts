// What a chart can draw: past a few dozen backends or a few hundred node gaps, bars and bands stop being readable and
// their SVG grows without end, so the busiest backends are drawn one by one and the rest summed, gaps closer than a
// pixel merged; and maxima found without spreading arrays into arguments (100,000 of them overflowed the stack).
import { parseIsoMicros } from '../core/event.js';
import type { TimelineSeries } from './html-timeline.js';
import type { MissingSpan, ServiceReport } from './types.js';

/** The largest of `values` and `floor`, without spreading them into arguments. */
export function maxOf(values: Iterable<number>, floor: number): number {
  let m = floor;
  for (const v of values) if (v > m) m = v;
  return m;
}

/** Backends drawn one by one at most; the rest are one "others" bar or series (5,000 bars are not readable). */
export const SHARE_ROWS = 30;
const TIMELINE_SERIES = 12;

type BackendRow = ServiceReport['backends'][number];

/** The `limit - 1` busiest backends, and the rest summed into one row named after how many they are. */
export function topWithOthers(rows: readonly BackendRow[], limit: number): BackendRow[] {
  const sorted = [...rows].sort((a, b) => b.selections - a.selections || (a.backend < b.backend ? -1 : 1));
  const top = sorted.slice(0, limit - 1);
  const rest = sorted.slice(limit - 1);
  const others = { ...rest[0]!, backend: `${rest.length} others`, selections: 0, share: 0, clients: 0 };
  for (const r of rest) {
    others.selections += r.selections;
    others.share += r.share;
    others.clients += r.clients;
  }
  return [...top, others];
}

/** The timeline's series: every backend, or the busiest and one "others" series summing the rest. */
export function timelineSeries(
  s: ServiceReport,
  series: TimelineSeries,
): { order: string[]; columns: Map<string, number[]> } {
  const order = s.backends.map((b) => b.backend);
  const listed = new Set(order);
  for (const b of series.backends.keys()) if (!listed.has(b)) order.push(b);
  if (order.length <= TIMELINE_SERIES) return { order, columns: series.backends };
  const total = (b: string) => (series.backends.get(b) ?? []).reduce((a, v) => a + v, 0);
  const ranked = order.map((b) => ({ b, n: total(b) })).sort((x, y) => y.n - x.n || (x.b < y.b ? -1 : 1));
  const top = ranked.slice(0, TIMELINE_SERIES - 1).map((r) => r.b);
  const name = `${order.length - top.length} others`;
  const sum: number[] = [];
  for (const { b } of ranked.slice(TIMELINE_SERIES - 1))
    (series.backends.get(b) ?? []).forEach((v, i) => {
      sum[i] = (sum[i] ?? 0) + v;
    });
  const columns = new Map(top.map((b) => [b, series.backends.get(b)!] as const));
  columns.set(
    name,
    Array.from(sum, (v) => v ?? 0),
  );
  return { order: [...top, name], columns };
}

/** Gaps closer than a pixel apart drawn as one: 100,000 node gaps are a band, not 100,000 rectangles. */
export function gapsToDraw(missing: readonly MissingSpan[], xAt: (us: number) => number): MissingSpan[] {
  if (missing.length <= 200) return [...missing];
  const byNode = new Map<string, MissingSpan[]>();
  for (const m of [...missing].sort((a, b) => (a.start < b.start ? -1 : 1))) {
    const list = byNode.get(m.node) ?? [];
    const last = list.at(-1);
    if (last && xAt(parseIsoMicros(m.start)) <= xAt(parseIsoMicros(last.end)) + 1) {
      if (m.end > last.end) list[list.length - 1] = { ...last, end: m.end, ongoing: m.ongoing };
    } else list.push({ ...m });
    byNode.set(m.node, list);
  }
  return [...byNode.values()].flat();
}

/** Where a bar's figures go: after its end, or inside it in white. */
export interface LabelPlace {
  x: number;
  anchor: 'start' | 'end';
  onBar: boolean;
}

/** A generous width of 12.5px text per character, so an estimate never comes out shorter than the drawn text. */
const CHAR_WIDTH = 7.6;

/**
 * The place of a label `chars` long for a bar from `x0` to `barEnd`: after the bar if it fits before `right`, else
 * inside it; either way clear of the dashed line at `line` (the even share), moved past it when it would cross it.
 */
export function labelPlace(chars: number, x0: number, barEnd: number, right: number, line: number | null): LabelPlace {
  const width = chars * CHAR_WIDTH;
  const after = barEnd + 8;
  const candidates: LabelPlace[] = [
    { x: after, anchor: 'start', onBar: false },
    { x: barEnd - 8, anchor: 'end', onBar: true },
  ];
  if (line !== null)
    candidates.push(
      { x: Math.max(after, line + 8), anchor: 'start', onBar: false },
      { x: line - 8, anchor: 'end', onBar: line <= barEnd },
    );
  const extent = (p: LabelPlace): [number, number] => (p.anchor === 'start' ? [p.x, p.x + width] : [p.x - width, p.x]);
  const fits = (p: LabelPlace) => {
    const [a, b] = extent(p);
    return a >= x0 + 2 && b <= right && (p.onBar ? b <= barEnd : a >= barEnd);
  };
  const clear = (p: LabelPlace) => {
    const [a, b] = extent(p);
    return line === null || b < line - 4 || a > line + 4;
  };
  return candidates.find((p) => fits(p) && clear(p)) ?? candidates.find(fits) ?? candidates[0]!;
}
