// What a fuzz target is: where input enters stickyscope, the inputs to start from, and how they mutate. The property
// every target shares: bad input gets a typed error (InputError, UsageError) or a valid result, never another
// exception, never a hang, never unbounded memory (harness.ts enforces the last two).
import fc from 'fast-check';
import { InputError, UsageError } from '../../src/core/errors.js';

export interface FuzzTarget {
  name: string;
  /** Inputs the mutations start from (besides the corpus files of test/fuzz/corpus/<name>/). */
  seeds(): Uint8Array[];
  /** Runs the code under test; throws an Error (not InputError/UsageError) when a result is not valid. */
  run(input: Uint8Array): unknown;
}

export const isTypedError = (err: unknown): boolean => err instanceof InputError || err instanceof UsageError;

/** A result that breaks the property although nothing threw. */
export class InvalidResult extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidResult';
  }
}

const edit = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant('repeat' as const),
    at: fc.nat(),
    n: fc.integer({ min: 1, max: 64 }),
    times: fc.integer({ min: 2, max: 200 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat(),
    byte: fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x0a, 0x3a, 0x2f, 0x5b),
  }),
);
type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never;

function apply(seed: Uint8Array, edits: Edit[]): Uint8Array {
  let b = Buffer.from(seed);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % (b.length + 1);
    switch (e.kind) {
      case 'flip':
        if (at < b.length) b[at] = b[at]! ^ e.bits;
        break;
      case 'set':
        if (at < b.length) b[at] = e.byte;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.n)]);
        break;
      case 'repeat': {
        const piece = b.subarray(at, at + e.n);
        b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: e.times }, () => piece), b.subarray(at)]);
        break;
      }
      case 'truncate':
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

/** Seeds mutated by a few edits (shrinking drops edits), mixed with bytes from nothing. */
export function inputs(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const fromNothing = fc.uint8Array({ maxLength: 4096 });
  if (seeds.length === 0) return fromNothing;
  const mutated = fc
    .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(edit, { maxLength: 8 }))
    .map(([i, edits]) => apply(seeds[i]!, edits));
  return fc.oneof({ weight: 1, arbitrary: fromNothing }, { weight: 6, arbitrary: mutated });
}

export const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
export const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
