// The SVG charts of one Service in the HTML report. Every drawn element carries a
// data-chart attribute (and data-* values) so the page's own check, and tests, can
// find and count them.
import type { ServiceReport } from './types.js';
import { labelPlace, maxOf, SHARE_ROWS, topWithOthers } from './html-chart-limits.js';
import { colorOf, count, el, esc, pct, titled, VERDICT_COLORS } from './html-svg.js';

const W = 1000;

/** Selections per backend as horizontal bars, with the even share 1/K as a dashed line. */
export function shareChart(s: ServiceReport): string {
  const k = s.backends.length;
  const rows = k <= SHARE_ROWS ? s.backends : topWithOthers(s.backends, SHARE_ROWS);
  const rowH = 30;
  const top = 26;
  const x0 = 250;
  const x1 = 840;
  const even = k > 0 ? 1 / k : 0;
  const max =
    Math.min(
      1,
      maxOf(
        rows.map((b) => b.share),
        even,
      ) * 1.08,
    ) || 1;
  const x = (share: number) => x0 + (share / max) * (x1 - x0);
  const h = top + rows.length * rowH + 8;
  const parts: string[] = [];
  const texts: string[] = [];
  const fair = k > 0 ? x(even) : null;
  rows.forEach((b, i) => {
    const row = shareRow(b, i, { y: top + i * rowH, rowH, x0, x1, x, fair });
    parts.push(...row.parts);
    texts.push(...row.texts);
  });
  if (k > 0) {
    const fx = x(even);
    parts.push(
      el('line', {
        x1: fx,
        x2: fx,
        y1: top - 6,
        y2: h - 4,
        class: 'fair',
        'data-chart': 'share-fair-line',
        'data-share': even,
      }),
    );
    parts.push(
      el(
        'text',
        { x: fx, y: top - 10, 'text-anchor': 'middle', class: 'fair-label' },
        esc(`even share 1/K = ${pct(even)}`),
      ),
    );
  }
  // Figures drawn last, over the 1/K line.
  return svg('share', h, `Share of selections per backend, ${k} backends`, [...parts, ...texts]);
}

interface RowFrame {
  y: number;
  rowH: number;
  x0: number;
  x1: number;
  /** Where a share ends. */
  x: (share: number) => number;
  /** Where the even share's dashed line is, if drawn. */
  fair: number | null;
}

/** One backend's bar over its track, and its name and figures (`texts`, drawn over the 1/K line). */
function shareRow(b: ServiceReport['backends'][number], i: number, f: RowFrame): { parts: string[]; texts: string[] } {
  const { y, rowH, x0, x1, x } = f;
  const bar = el(
    'rect',
    {
      x: x0,
      y: y + 4,
      width: x(b.share) - x0,
      height: rowH - 8,
      rx: 4,
      fill: colorOf(i),
      'data-chart': 'share-bar',
      'data-backend': b.backend,
      'data-selections': b.selections,
      'data-share': b.share,
    },
    titled(
      `${b.backend}${b.pod ? ` (${b.pod})` : ''}: ${count(b.selections)} selections (${pct(b.share)}), ${count(b.clients)} clients`,
      '',
    ),
  );
  const note =
    b.selections === 0
      ? 'never picked'
      : `${count(b.selections)} · ${pct(b.share)} · ${count(b.clients)} client${b.clients === 1 ? '' : 's'}`;
  // After the bar, or inside a long one so the text never runs off the card; never across the 1/K line.
  const at = labelPlace(note.length, x0, x(b.share), W - 10, f.fair);
  return {
    parts: [el('rect', { x: x0, y: y + 4, width: x1 - x0, height: rowH - 8, rx: 4, class: 'track' }), bar],
    texts: [
      el('text', { x: x0 - 12, y: y + 19, 'text-anchor': 'end', class: 'label mono' }, esc(b.pod ?? b.backend)),
      el(
        'text',
        {
          x: at.x,
          y: y + 19,
          'text-anchor': at.anchor,
          class: at.onBar ? 'value on-bar' : 'value',
          'data-chart': 'share-label',
        },
        esc(note),
      ),
    ],
  };
}

/** The measured stickiness on a 0..100% scale, against what random picks would give (1/K). */
export function stickinessChart(s: ServiceReport): string {
  const st = s.stickiness;
  const x0 = 20;
  const x1 = W - 20;
  const x = (r: number) => x0 + r * (x1 - x0);
  const parts: string[] = [el('rect', { x: x0, y: 30, width: x1 - x0, height: 22, rx: 5, class: 'track' })];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(el('line', { x1: x(t), x2: x(t), y1: 54, y2: 60, class: 'tick' }));
    parts.push(
      el(
        'text',
        { x: x(t), y: 74, 'text-anchor': t === 0 ? 'start' : t === 1 ? 'end' : 'middle', class: 'axis' },
        `${t * 100}%`,
      ),
    );
  }
  if (st.ratio !== null) {
    const good = st.expectedRandom === null || st.ratio >= st.expectedRandom;
    parts.push(
      el(
        'rect',
        {
          x: x0,
          y: 30,
          width: Math.max(1, x(st.ratio) - x0),
          height: 22,
          rx: 5,
          fill: good ? '#3867d6' : '#fa8231',
          'data-chart': 'stickiness-bar',
          'data-ratio': st.ratio,
        },
        titled(`${count(st.sameBackend)} of ${count(st.pairs)} consecutive selections kept the backend`, ''),
      ),
    );
    parts.push(
      el(
        'text',
        { x: Math.min(x(st.ratio), x1 - 150) + 6, y: 22, class: 'value strong' },
        esc(`measured ${pct(st.ratio)}`),
      ),
    );
  } else {
    parts.push(
      el(
        'text',
        { x: x0 + 10, y: 46, class: 'muted' },
        'no client selected this service twice: no consecutive pairs to compare',
      ),
    );
  }
  if (st.expectedRandom !== null) {
    const rx = x(st.expectedRandom);
    parts.push(
      el('line', {
        x1: rx,
        x2: rx,
        y1: 24,
        y2: 58,
        class: 'fair',
        'data-chart': 'stickiness-random-line',
        'data-ratio': st.expectedRandom,
      }),
    );
    parts.push(
      el(
        'text',
        { x: rx, y: 96, 'text-anchor': 'middle', class: 'fair-label' },
        esc(`random pick 1/K = ${pct(st.expectedRandom)}`),
      ),
    );
  }
  return svg('stickiness', 104, 'Stickiness against random choice', parts);
}

/** Affinity verdicts of consecutive selection pairs as one stacked bar, with the counts below. */
export function verdictChart(s: ServiceReport): string {
  const v = s.affinityVerdicts;
  const kinds = [
    ['held', v.held, 'held: same backend within the timeout'],
    ['violation', v.violation, 'violation: moved within the timeout, old backend still there'],
    ['forcedRepick', v.forcedRepick, 'forced re-pick: old backend gone'],
    ['expired', v.expired, 'expired: gap longer than the timeout'],
  ] as const;
  const total = kinds.reduce((a, [, n]) => a + n, 0);
  const x0 = 20;
  const x1 = W - 20;
  const parts: string[] = [el('rect', { x: x0, y: 8, width: x1 - x0, height: 26, rx: 5, class: 'track' })];
  let x = x0;
  for (const [kind, n, what] of kinds) {
    if (n === 0) continue;
    const w = (n / total) * (x1 - x0);
    parts.push(
      el(
        'rect',
        {
          x,
          y: 8,
          width: w,
          height: 26,
          fill: VERDICT_COLORS[kind],
          'data-chart': 'verdict-segment',
          'data-verdict': kind,
          'data-count': n,
        },
        titled(`${what}: ${count(n)} (${pct(n / total)})`, ''),
      ),
    );
    x += w;
  }
  if (total === 0) parts.push(el('text', { x: x0 + 10, y: 26, class: 'muted' }, 'no consecutive selections to judge'));
  kinds.forEach(([kind, n], i) => {
    const lx = x0 + i * 240;
    parts.push(el('rect', { x: lx, y: 46, width: 12, height: 12, rx: 2, fill: VERDICT_COLORS[kind] }));
    parts.push(
      el(
        'text',
        { x: lx + 18, y: 57, class: 'value' },
        esc(`${kind} ${count(n)}${total ? ` (${pct(n / total)})` : ''}`),
      ),
    );
  });
  return svg('verdicts', 66, 'Affinity verdicts', parts);
}

/** The busiest clients, each a bar split by the backends it reached. */
export function clientChart(s: ServiceReport, limit: number): string {
  const rows = [...s.clients]
    .sort((a, b) => b.selections - a.selections || (a.client < b.client ? -1 : 1))
    .slice(0, limit);
  const colour = new Map(s.backends.map((b, i) => [b.backend, colorOf(i)]));
  const peak = maxOf(
    rows.map((r) => r.selections),
    1,
  );
  const rowH = 24;
  const x0 = 170;
  const x1 = 760;
  const parts: string[] = [];
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    parts.push(el('text', { x: x0 - 10, y: y + 15, 'text-anchor': 'end', class: 'label mono' }, esc(r.client)));
    let x = x0;
    for (const [backend, n] of Object.entries(r.backends)) {
      const w = (n / peak) * (x1 - x0);
      parts.push(
        el(
          'rect',
          {
            x,
            y: y + 3,
            width: w,
            height: rowH - 8,
            fill: colour.get(backend) ?? '#778ca3',
            'data-chart': 'client-bar',
            'data-client': r.client,
            'data-backend': backend,
            'data-selections': n,
          },
          titled(`${r.client} -> ${backend}: ${count(n)}`, ''),
        ),
      );
      x += w;
    }
    const kept = r.stickiness === null ? 'one selection' : `stickiness ${pct(r.stickiness, 0)}`;
    const nodes = r.nodes.length > 1 ? ` · via ${r.nodes.length} nodes` : '';
    parts.push(
      el(
        'text',
        { x: x + 8, y: y + 15, class: 'value' },
        esc(
          `${count(r.selections)} · ${Object.keys(r.backends).length} backend${Object.keys(r.backends).length === 1 ? '' : 's'} · ${kept}${nodes}`,
        ),
      ),
    );
  });
  return svg('clients', rows.length * rowH + 8, 'Busiest clients by backend', parts);
}

export function svg(chart: string, height: number, label: string, parts: string[]): string {
  // Joined, not spread: a chart of 100,000 parts would overflow the stack as arguments.
  return el(
    'svg',
    { viewBox: `0 0 ${W} ${height}`, width: '100%', role: 'img', 'aria-label': label, 'data-chart': chart },
    parts.join(''),
  );
}
