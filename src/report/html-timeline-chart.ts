// The HTML report's timeline of one Service: selections per time bucket stacked by backend, the spans a node was not
// reporting shaded over them, and each change of the Service's endpoints marked, so a shift in the bars can be read
// against the rollout or restart that caused it.
import { parseIsoMicros } from '../core/event.js';
import type { MissingSpan, ServiceReport } from './types.js';
import type { EndpointChange, TimelineSeries } from './html-timeline.js';
import { gapsToDraw, maxOf, timelineSeries } from './html-chart-limits.js';
import { svg } from './html-charts.js';
import { clock, colorOf, count, el, esc, span, titled } from './html-svg.js';

const X0 = 60;
const X1 = 990;
const Y0 = 22;
const Y1 = 190;
/** Change marks labelled at most; the others are drawn and titled, not labelled, so labels do not pile up. */
const LABELLED_CHANGES = 12;

export function timelineChart(
  s: ServiceReport,
  series: TimelineSeries,
  missing: readonly MissingSpan[],
  changes: readonly EndpointChange[] = [],
): string {
  const { order, columns } = timelineSeries(s, series);
  const n = maxOf(
    [...columns.values()].map((c) => c.length),
    1,
  );
  const totals = new Array<number>(n).fill(0);
  for (const c of columns.values()) {
    c.forEach((v, i) => {
      totals[i]! += v;
    });
  }
  const peak = maxOf(totals, 1);
  const colW = (X1 - X0) / n;
  const parts: string[] = [
    el('line', { x1: X0, x2: X1, y1: Y1, y2: Y1, class: 'tick' }),
    el('line', { x1: X0, x2: X1, y1: Y0, y2: Y0, class: 'grid' }),
    el('text', { x: X0 - 8, y: Y0 + 4, 'text-anchor': 'end', class: 'axis' }, count(peak)),
    el('text', { x: X0 - 8, y: Y1, 'text-anchor': 'end', class: 'axis' }, '0'),
  ];
  for (let i = 0; i < n; i++) {
    let y = Y1;
    order.forEach((backend, bi) => {
      const v = columns.get(backend)?.[i] ?? 0;
      if (v === 0) return;
      const hgt = (v / peak) * (Y1 - Y0);
      y -= hgt;
      const at = series.start + i * series.bucketSeconds * 1e6;
      parts.push(
        el(
          'rect',
          {
            x: X0 + i * colW + 0.5,
            y,
            width: Math.max(0.5, colW - 1),
            height: hgt,
            fill: colorOf(bi),
            'data-chart': 'timeline-bar',
            'data-backend': backend,
            'data-selections': v,
          },
          titled(`${clock(at)} +${span(series.bucketSeconds)}: ${backend} ${count(v)}`, ''),
        ),
      );
    });
  }
  const t0 = series.start;
  const t1 = series.start + n * series.bucketSeconds * 1e6;
  const xAt = (us: number) => X0 + ((Math.min(t1, Math.max(t0, us)) - t0) / (t1 - t0)) * (X1 - X0);
  parts.push(...gapMarks(missing, xAt), ...changeMarks(changes, xAt));
  parts.push(el('text', { x: X0, y: Y1 + 18, class: 'axis' }, `${clock(t0)} UTC`));
  parts.push(el('text', { x: X1, y: Y1 + 18, 'text-anchor': 'end', class: 'axis' }, `${clock(t1)} UTC`));
  parts.push(
    el(
      'text',
      { x: (X0 + X1) / 2, y: Y1 + 18, 'text-anchor': 'middle', class: 'axis' },
      esc(`selections per ${span(series.bucketSeconds)}`),
    ),
  );
  return svg('timeline', Y1 + 26, 'Selections over time by backend', parts);
}

/** Spans in which a node was not reporting (its selections there are not counted), over the bars. */
function gapMarks(missing: readonly MissingSpan[], xAt: (us: number) => number): string[] {
  const parts: string[] = [];
  for (const m of gapsToDraw(missing, xAt)) {
    const a = xAt(parseIsoMicros(m.start));
    const b = xAt(parseIsoMicros(m.end));
    if (b <= a) continue;
    parts.push(
      el(
        'rect',
        { x: a, y: Y0, width: b - a, height: Y1 - Y0, class: 'gap', 'data-chart': 'timeline-gap', 'data-node': m.node },
        titled(`node ${m.node} not reporting ${m.start} to ${m.end}${m.ongoing ? ' (still down)' : ''}`, ''),
      ),
    );
    parts.push(el('text', { x: a + 2, y: Y0 - 4, class: 'gap-label' }, esc(`${m.node} missing`)));
  }
  return parts;
}

/** A solid line at each endpoint change, "+1 −2" at its top, above the plot: what joined and what left. */
function changeMarks(changes: readonly EndpointChange[], xAt: (us: number) => number): string[] {
  return changes.flatMap((c, i) => {
    const x = xAt(c.ts);
    const what = [
      ...(c.added.length ? [`+${c.added.length}`] : []),
      ...(c.removed.length ? [`\u2212${c.removed.length}`] : []),
    ].join(' ');
    const detail = [
      ...(c.added.length ? [`joined ${c.added.join(', ')}`] : []),
      ...(c.removed.length ? [`left ${c.removed.join(', ')}`] : []),
    ].join('; ');
    const who = c.nodes.map((n) => n || 'the Kubernetes API').join(', ');
    return [
      el(
        'line',
        {
          x1: x,
          x2: x,
          // Up past the plot, so the mark shows above the bars it cuts through.
          y1: Y0 - 16,
          y2: Y1,
          class: 'change',
          'data-chart': 'timeline-endpoints',
          'data-added': c.added.length,
          'data-removed': c.removed.length,
        },
        titled(`${clock(c.ts)} UTC endpoints changed (${who}): ${detail}`, ''),
      ),
      ...(i < LABELLED_CHANGES
        ? [el('text', { x: x + 4, y: Y0 - 8, class: 'change-label' }, esc(`endpoints ${what}`))]
        : []),
    ];
  });
}
