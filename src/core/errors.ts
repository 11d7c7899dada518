// The few typed errors the CLI knows how to print. Everything else is a bug and
// prints its stack. Their messages echo arguments and file contents, so control
// characters in them are escaped here, once, whoever prints them.
import { printableLines } from './text.js';

/** Wrong arguments: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(printableLines(message));
    this.name = 'UsageError';
  }
}

/** The machine or the kernel cannot do what was asked (not root, no BTF, old kernel), exit 3. */
export class EnvironmentError extends Error {
  constructor(message: string) {
    super(printableLines(message));
    this.name = 'EnvironmentError';
  }
}

/** Input that is not what it claims to be (bad trace file, bad rules), exit 4. */
export class InputError extends Error {
  constructor(message: string) {
    super(printableLines(message));
    this.name = 'InputError';
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof EnvironmentError) return 3;
  if (err instanceof InputError) return 4;
  return 1;
}
