// The `window` of a report request and of `serve --window`: "90s", "5m", "1h", "all".
import type { WindowChoice } from './hub.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Seconds (a whole, positive number of them), 'all', or undefined when the text is neither. */
export function parseWindowParam(text: string): WindowChoice | undefined {
  if (text === 'all') return 'all';
  const m = /^(\d{1,7})(s|m|h)?$/.exec(text);
  if (!m) return undefined;
  const seconds = Number(m[1]) * UNITS[m[2] ?? 's']!;
  return seconds > 0 ? seconds : undefined;
}

/** The shortest exact form: 300 -> "5m", 90 -> "90s". */
export function formatWindow(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
