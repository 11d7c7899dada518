// The few pieces every chart of the HTML report is made of: escaping, elements,
// a backend palette, number and time formats.

export function esc(text: string | number): string {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

type Attrs = Record<string, string | number | null | undefined>;

/** `<tag a="1">children</tag>`; attributes that are null or undefined are left out. */
export function el(tag: string, attrs: Attrs, ...children: string[]): string {
  let open = `<${tag}`;
  for (const [k, v] of Object.entries(attrs))
    if (v !== null && v !== undefined) open += ` ${k}="${esc(typeof v === 'number' ? round(v) : v)}"`;
  return children.length ? `${open}>${children.join('')}</${tag}>` : `${open}/>`;
}

/** An SVG element's text, with a native tooltip. */
export function titled(tooltip: string, inner: string): string {
  return `<title>${esc(tooltip)}</title>${inner}`;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Distinct, readable on white, and stable per backend position. */
const PALETTE = [
  '#3867d6',
  '#20bf6b',
  '#f7b731',
  '#eb3b5a',
  '#8854d0',
  '#0fb9b1',
  '#fa8231',
  '#4b6584',
  '#a55eea',
  '#2d98da',
  '#26de81',
  '#fd9644',
];

export function colorOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

export const VERDICT_COLORS = {
  held: '#20bf6b',
  violation: '#eb3b5a',
  forcedRepick: '#f7b731',
  expired: '#a5b1c2',
} as const;

export function pct(x: number | null, digits = 1): string {
  return x === null || Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(digits)}%`;
}

export function num(x: number | null, digits = 2): string {
  return x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(digits);
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** "12:11:05" (UTC) from microseconds since the epoch. */
export function clock(us: number): string {
  return new Date(us / 1000).toISOString().slice(11, 19);
}

/** "1 s", "5 min", ... for a bucket width in seconds. */
export function span(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${+(seconds / 60).toFixed(1)} min`;
  return `${+(seconds / 3600).toFixed(1)} h`;
}
