// The one way tests wait for the truth: poll a check until it holds, and on timeout say what was awaited, what was
// last seen and what was expected. Never a fixed sleep before an assertion.

/** A check's "not yet": what it saw and what it waits for, both said if the wait times out. */
export class NotYet {
  constructor(
    readonly seen: unknown,
    readonly expected: unknown,
  ) {}
}

/** `seen` has reached `expected` (a count, a byte size), or not yet. */
export const atLeast = (seen: number, expected: number): true | NotYet =>
  seen >= expected || new NotYet(seen, `at least ${expected}`);

/** `seen` is `expected` (compared as JSON: counts, strings, small arrays and records), or not yet. */
export const equals = (seen: unknown, expected: unknown): true | NotYet =>
  JSON.stringify(seen) === JSON.stringify(expected) || new NotYet(seen, expected);

/** A waitFor check on a screen: `ok` holds for it, or not yet, with the screen as what was last seen. */
export const screenHolds =
  (screen: () => string, ok: (s: string) => boolean): (() => true | NotYet) =>
  () => {
    const s = screen();
    return (
      ok(s) ||
      new NotYet(
        `the screen:
${s}`,
        ok.toString(),
      )
    );
  };

type Pending = false | null | undefined | NotYet;

const show = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 300 ? `${s.slice(0, 300)}...` : s;
};

/**
 * Polls `check` every `intervalMs` until it returns something other than false, null, undefined or a NotYet, and
 * resolves with that. A check that throws ends the wait with its error (a process that died, a wrong answer).
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Pending | Promise<T | Pending>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await check();
    if (got !== false && got !== null && got !== undefined && !(got instanceof NotYet)) return got as T;
    if (Date.now() >= end) {
      const [seen, expected] = got instanceof NotYet ? [got.seen, got.expected] : [got, 'a check that holds'];
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}: last seen ${show(seen)}, expected ${show(expected)}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
