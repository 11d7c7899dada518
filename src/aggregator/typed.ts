// Growing typed arrays: the compact storage behind the per-pair tables.

export type Typed = Int32Array | Uint32Array | Uint16Array | Uint8Array | Float64Array;

/** A copy of `a` with room for `length` elements (new elements zero). */
export function grown<T extends Typed>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a as never);
  return b;
}

/** Bytes held by a set of typed arrays. */
export function bytesOf(arrays: readonly Typed[]): number {
  let n = 0;
  for (const a of arrays) n += a.byteLength;
  return n;
}
