// Latency histogram the bench's subscribers keep: log-linear buckets (8 per power of two, within 12.5%) of integer
// microseconds, cheap enough to fill for every event, sent as counts so the bench can subtract two snapshots.
const SUB = 8;
const LINEAR = 16;
/** Up to 2^35 us (about 9.5 h): far beyond any latency a run could see. */
export const BUCKETS = LINEAR + (35 - 4) * SUB;

export function bucketOf(us: number): number {
  if (us < LINEAR) return us < 0 ? 0 : Math.floor(us);
  const v = us >= 2 ** 35 ? 2 ** 35 - 1 : Math.floor(us);
  const hi = v >= 2 ** 31 ? 31 + (31 - Math.clz32(Math.floor(v / 2 ** 31))) : 31 - Math.clz32(v);
  const sub = Math.floor(v / 2 ** (hi - 3)) & (SUB - 1);
  return Math.min(BUCKETS - 1, LINEAR + (hi - 4) * SUB + sub);
}

/** The lowest latency (us) a bucket holds. */
export function bucketFloor(b: number): number {
  if (b < LINEAR) return b;
  const hi = Math.floor((b - LINEAR) / SUB) + 4;
  return 2 ** hi + ((b - LINEAR) % SUB) * 2 ** (hi - 3);
}

export function newHistogram(): number[] {
  return new Array<number>(BUCKETS).fill(0);
}

/** after - before, bucket by bucket. */
export function histogramDelta(after: number[], before: number[]): number[] {
  return after.map((n, i) => n - (before[i] ?? 0));
}

/** The p-quantile (0..1) in microseconds, as the floor of its bucket; NaN for an empty histogram. */
export function quantile(h: number[], p: number): number {
  const total = h.reduce((s, n) => s + n, 0);
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (let b = 0; b < h.length; b++) {
    seen += h[b]!;
    if (seen >= rank) return bucketFloor(b);
  }
  return bucketFloor(h.length - 1);
}

/** Wall-clock microseconds since the epoch, the unit of an event's ts, finer than Date.now(). */
export function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}
