// Short, fixed-width text for the figures the views show, and fit(): the one way text
// from the events reaches a cell of the screen (made printable, measured in cells).
import stringWidth from 'string-width';
import { printable } from '../core/text.js';
import type { ServiceRow, Verdict } from './view-model.js';

/** At most 6 cells, whatever the rate. */
export function rate(perSecond: number): string {
  if (perSecond >= 1e9) return `${Math.min(99_999, Math.round(perSecond / 1e9))}G`;
  if (perSecond >= 999_500) return `${(perSecond / 1e6).toFixed(perSecond >= 9_995_000 ? 0 : 1)}M`;
  if (perSecond >= 10_000) return `${(perSecond / 1000).toFixed(0)}k`;
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k`;
  if (perSecond >= 10) return perSecond.toFixed(0);
  return perSecond.toFixed(1);
}

/** A ratio such as max/mean in at most 5 cells: 1.37, 12.4, 5000, 123k. */
export function ratio(x: number): string {
  if (x < 9.995) return x.toFixed(2);
  if (x < 99.95) return x.toFixed(1);
  if (x < 99_999.5) return x.toFixed(0);
  return `${Math.min(9999, Math.round(x / 1000))}k`;
}

/** A count in at most 5 cells: 12345, 123k, 12M. */
export function count(n: number): string {
  if (n < 99_999.5) return n.toFixed(0);
  if (n < 999_500) return `${Math.round(n / 1000)}k`;
  return `${Math.min(9999, Math.round(n / 1e6))}M`;
}

export function percent(fraction: number | null): string {
  return fraction === null ? '-' : `${(fraction * 100).toFixed(0)}%`;
}

export function isSkewed(row: Pick<ServiceRow, 'spread'>): boolean {
  return row.spread.verdict === 'skewed';
}

export function affinityText(a: ServiceRow['affinity']): string {
  if (a === null) return '?';
  if (a.mode === 'None') return 'none';
  return a.timeoutSeconds === null ? 'ClientIP' : `ClientIP ${seconds(a.timeoutSeconds)}`;
}

export function seconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

export const verdictText: Record<Verdict, string> = {
  held: 'held',
  violation: 'violation',
  forcedRepick: 'forced re-pick',
  expired: 'expired',
  pending: 'pending (rules not read yet)',
};

/** A bytes-per-second figure in at most 7 cells: 512B, 1.2kB, 34MB. */
/** "1.2kB", or "n/a" where no node counts bytes (nf_conntrack_acct off). */
export function bytesRate(perSecond: number | null): string {
  return perSecond === null ? 'n/a' : `${rate(perSecond)}B`;
}

/** How long, in at most 6 cells: 42s, 5m03s, 3h12m, 12d. */
export function duration(secondsLong: number): string {
  const s = Math.max(0, Math.floor(secondsLong));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.min(99999, Math.floor(s / 86400))}d`;
}

/** Wall-clock time of day, HH:MM:SS.mmm in UTC (traces are in UTC). */
export function clock(tsMicros: number): string {
  return new Date(Math.floor(tsMicros / 1000)).toISOString().slice(11, 23);
}

/** What a stale row or detail says: its nodes are down, so its figures stopped at `sinceMicros` (HH:MM:SS UTC). */
export function staleText(sinceMicros: number): string {
  return `no data since ${clock(sinceMicros).slice(0, 8)}`;
}

/** "3.2s ago" relative to `now` (both microseconds). */
export function ago(tsMicros: number, nowMicros: number | null): string {
  if (nowMicros === null) return '';
  const s = Math.max(0, (nowMicros - tsMicros) / 1e6);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/**
 * Text whose every character takes exactly one cell: printable ASCII, and the glyphs the
 * views draw themselves (… › → block elements, box drawing); measured by its length,
 * since string-width costs about a microsecond per character and bars are drawn every frame.
 */
const ONE_CELL_EACH = /^[\x20-\x7e\u2026\u203a\u2190-\u21ff\u2500-\u259f]*$/;
const graphemes = new Intl.Segmenter();

/**
 * `text` made printable and cut to at most `width` terminal cells (ending in … when
 * cut), measured as Ink measures them: wide (CJK, emoji) and zero-width characters in a
 * crafted name must not push the columns after it. Returns the text and its width.
 */
function cut(text: string, width: number): { s: string; w: number } {
  if (width <= 0) return { s: '', w: 0 };
  const s = printable(text);
  if (ONE_CELL_EACH.test(s))
    return s.length > width ? { s: s.slice(0, width - 1) + '…', w: width } : { s, w: s.length };
  const w = stringWidth(s);
  if (w <= width) return { s, w };
  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(s)) {
    const g = stringWidth(segment);
    if (used + g > width - 1) break;
    out += segment;
    used += g;
  }
  return { s: out + '…', w: used + 1 };
}

/** Text from outside, printable, at most `width` cells. */
export function clip(text: string, width: number): string {
  return cut(text, width).s;
}

/** Text from outside, printable, exactly `width` cells: cut or padded. */
export function fit(text: string, width: number): string {
  const { s, w } = cut(text, width);
  return s + ' '.repeat(Math.max(0, width - w));
}
