// Fuzz target: the command line's durations, addresses, counts and sizes. Each either gives a value the commands can
// use (a finite duration a timer can wait, a port up to 65535, a power-of-two ring buffer) or a UsageError.
import {
  MAX_DURATION_MS,
  parseCount,
  parseDuration,
  parseHostPort,
  parseRingBufferBytes,
} from '../../src/cli/command.js';
import { InvalidResult, bytes, text, type FuzzTarget } from './target.js';

export const cliTarget: FuzzTarget = {
  name: 'cli-values',
  seeds: () => ['30s', '2m', '500ms', '1.5h', '10', '127.0.0.1:7390', '[::1]:0', '16', '8388608'].map(bytes),
  run(input) {
    const s = text(input);
    const outcomes: unknown[] = [];
    const attempt = (f: () => unknown) => {
      try {
        outcomes.push(f());
      } catch (err) {
        if (!(err instanceof Error && err.name === 'UsageError')) throw err;
      }
    };
    attempt(() => {
      const ms = parseDuration(s, '--duration');
      if (!(Number.isFinite(ms) && ms >= 0 && ms <= MAX_DURATION_MS)) throw new InvalidResult(`duration ${ms} ms`);
    });
    attempt(() => {
      const a = parseHostPort(s, '--listen');
      const port = Number(a.slice(a.lastIndexOf(':') + 1));
      if (!(Number.isInteger(port) && port <= 65535)) throw new InvalidResult(`address ${a}`);
    });
    attempt(() => {
      const n = parseCount(s, '--max-subscribers', 1, 10_000);
      if (!(Number.isInteger(n) && n >= 1 && n <= 10_000)) throw new InvalidResult(`count ${n}`);
    });
    attempt(() => {
      const n = parseRingBufferBytes(s);
      if (n !== undefined && !(Number.isSafeInteger(n) && n >= 4096 && (n & (n - 1)) === 0))
        throw new InvalidResult(`ring buffer of ${n} bytes`);
    });
    return outcomes;
  },
};
