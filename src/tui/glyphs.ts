// Unicode block glyphs: share bars and sparklines, as plain strings so they can be
// measured and tested without rendering.

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const LEVELS = '▁▂▃▄▅▆▇█';

/** A bar `width` cells wide filled to `fraction` (0..1), with eighth-cell resolution, padded with spaces. */
export function shareBar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const rest = eighths % 8;
  const bar = '█'.repeat(full) + EIGHTHS[rest]!;
  return bar + ' '.repeat(width - full - (rest ? 1 : 0));
}

/** One glyph per value, scaled to the largest; zero stays the lowest level so gaps still show a baseline. */
export function sparkline(values: number[]): string {
  const max = Math.max(0, ...values);
  if (max === 0) return LEVELS[0]!.repeat(values.length);
  return values
    .map((v) => LEVELS[Math.min(LEVELS.length - 1, Math.floor((v / max) * (LEVELS.length - 1) + 0.5))])
    .join('');
}
