// Short, fixed-width text for the figures the views show.
import type { ServiceRow, Verdict } from './view-model.js';

/** Below this chi-square p-value the spread is called skewed (1%: a busy service otherwise flags noise often). */
export const SKEW_ALPHA = 0.01;

export function rate(perSecond: number): string {
  if (perSecond >= 10_000) return `${(perSecond / 1000).toFixed(0)}k`;
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k`;
  if (perSecond >= 10) return perSecond.toFixed(0);
  return perSecond.toFixed(1);
}

export function percent(fraction: number | null): string {
  return fraction === null ? '-' : `${(fraction * 100).toFixed(0)}%`;
}

export function pValue(p: number): string {
  if (p < 0.001) return p.toExponential(0);
  return p.toFixed(3);
}

/** "uniform", "skewed p=0.003", or "-" when there is nothing to test. */
export function spreadVerdict(row: Pick<ServiceRow, 'chi2P'>): string {
  if (row.chi2P === null) return '-';
  return row.chi2P < SKEW_ALPHA ? `skewed p=${pValue(row.chi2P)}` : 'uniform';
}

export function isSkewed(row: Pick<ServiceRow, 'chi2P'>): boolean {
  return row.chi2P !== null && row.chi2P < SKEW_ALPHA;
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
};

/** Wall-clock time of day, HH:MM:SS.mmm in UTC (traces are in UTC). */
export function clock(tsMicros: number): string {
  return new Date(Math.floor(tsMicros / 1000)).toISOString().slice(11, 23);
}

/** "3.2s ago" relative to `now` (both microseconds). */
export function ago(tsMicros: number, nowMicros: number | null): string {
  if (nowMicros === null) return '';
  const s = Math.max(0, (nowMicros - tsMicros) / 1e6);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/** Cut or pad to exactly `width` cells (ASCII and the block glyphs are one cell each). */
export function fit(text: string, width: number): string {
  return text.length > width ? text.slice(0, Math.max(0, width - 1)) + '…' : text.padEnd(width);
}
