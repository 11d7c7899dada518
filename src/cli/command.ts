// What every command module exports, and the shared argument parsing.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.js';
import { onStdoutBroken } from './output.js';

export interface Command {
  /** Full --help text. */
  usage: string;
  /** Resolves to the exit code. */
  run(argv: string[]): Promise<number | undefined>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** util.parseArgs, with its errors turned into UsageError. */
export function parse<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The longest duration taken: a year, far past any recording, and well within what timestamps in µs can hold. */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000;

/** "30s", "2m", "500ms", "1h" or plain seconds, to milliseconds: from 1 ms to a year. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} expects a duration like 30s, 2m or 500ms; got '${text}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
  if (!(ms >= 1 && ms <= MAX_DURATION_MS))
    throw new UsageError(`${flag} expects a duration from 1ms to 8760h (a year); got '${text}'`);
  return ms;
}

/** --ringbuf-bytes: the kernel takes only a power of two (of at least a page). */
export function parseRingBufferBytes(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isInteger(n) && n >= 4096 && (n & (n - 1)) === 0)) {
    throw new UsageError(`--ringbuf-bytes expects a power of two of at least 4096; got '${text}'`);
  }
  return n;
}

/**
 * An AbortSignal fired by the first SIGINT or SIGTERM, or by stdout breaking (trace |
 * head), so long-running commands end cleanly (detach, flush, remove what they made).
 * A second signal is left to the default handler so a stuck cleanup can still be interrupted.
 */
export function shutdownSignal(): AbortSignal {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    ac.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  onStdoutBroken(() => ac.abort(new Error('stdout was closed or failed')));
  return ac.signal;
}
