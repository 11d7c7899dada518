// What every command module exports, and the shared argument parsing.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.js';
import { closestWords } from '../core/near-words.js';
import { printable } from '../core/text.js';
import { onStdoutBroken } from './output.js';
import type { ClientTls } from '../protocol/tls.js';

export interface Command {
  /** Full --help text. */
  usage: string;
  /** Resolves to the exit code. */
  run(argv: string[]): Promise<number | undefined>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** --verbose of the commands that start the probe helper (trace, agent, doctor). */
export const verboseOption = { verbose: { type: 'boolean' } } as const;
export const VERBOSE_HELP = `--verbose            pass libbpf's messages through to stderr, its debug ones
                       included (what it loads, relocates and attaches, and why it fails)`;

/** Where libbpf's messages go with --verbose (stderr, one line each); undefined drops them. */
export function libbpfLines(verbose: boolean | undefined): ((line: string) => void) | undefined {
  return verbose ? (line) => process.stderr.write(`${printable(line)}\n`) : undefined;
}

/** util.parseArgs, with its errors turned into UsageError; a mistyped flag gets the nearest ones it could mean. */
export function parse<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  const all = { ...options, help: { type: 'boolean', short: 'h' } } as O & { help: { type: 'boolean'; short: 'h' } };
  try {
    return parseArgs({ args: argv, options: all, allowPositionals, strict: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const given = /^Unknown option '(-{1,2}[^']*)'/.exec((err as Error).message)?.[1];
    if (code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || given === undefined) throw new UsageError((err as Error).message);
    const flags = Object.keys(all).map((f) => `--${f}`);
    const near = closestWords(given.startsWith('--') ? given : `-${given}`, flags);
    const hint = near.length > 0 ? `; did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : '';
    throw new UsageError(`unknown option '${printable(given.slice(0, 80))}'${hint}`);
  }
}

/** The client side of the agents' link, spread into parse() by every command that connects to agents. */
export const clientTlsOptions = {
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-server-name': { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

const CLIENT_TLS_FLAGS: [string, string][] = [
  ['--tls-ca FILE', 'mutual TLS to the agents: the CA that signed their certificates'],
  ['--tls-cert FILE', 'our client certificate (and --tls-key FILE its key); see stickyscope certs'],
  ['--tls-key FILE', "the client certificate's private key"],
  [
    '--tls-server-name N',
    "the name every agent's certificate must carry (default: NODE.agent.stickyscope.local\nfor its node when known, else any such name, held to the node the agent reports)",
  ],
  ['--insecure', 'plaintext to agents that are not on loopback (their streams carry client addresses)'],
];

/** The client TLS flags' help lines, descriptions starting at `column`. */
export function clientTlsUsage(column: number): string {
  const pad = ' '.repeat(column);
  return CLIENT_TLS_FLAGS.map(([f, t]) => `  ${f.padEnd(column - 3)} ${t.split('\n').join(`\n${pad}`)}`).join('\n');
}

export interface ClientTlsValues {
  'tls-ca'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-server-name'?: string;
  insecure?: boolean;
}

export interface ClientSecurity {
  tls?: ClientTls;
  /** Throws UsageError for agents that plaintext may not reach (anything but loopback without --insecure). */
  check(addresses: string[]): void;
}

/** The client TLS flags: all of --tls-ca/--tls-cert/--tls-key or none, their files read and checked now. */
export async function parseClientTls(values: ClientTlsValues): Promise<ClientSecurity> {
  const given = (['tls-ca', 'tls-cert', 'tls-key'] as const).filter((f) => values[f] !== undefined);
  const { checkKeyPair, checkPlaintextAllowed } = await import('../protocol/tls.js');
  const insecure = values.insecure === true;
  if (given.length === 0) {
    if (values['tls-server-name'] !== undefined)
      throw new UsageError('--tls-server-name applies with --tls-ca, --tls-cert and --tls-key only');
    return { check: (addresses) => checkPlaintextAllowed(addresses, undefined, insecure) };
  }
  if (given.length < 3)
    throw new UsageError(
      `mutual TLS needs --tls-ca, --tls-cert and --tls-key together; got only ${given.map((f) => `--${f}`).join(', ')}`,
    );
  if (insecure) throw new UsageError('give either --tls-ca/--tls-cert/--tls-key or --insecure, not both');
  const tls: ClientTls = { ca: values['tls-ca']!, cert: values['tls-cert']!, key: values['tls-key']! };
  if (values['tls-server-name'] !== undefined) tls.serverName = values['tls-server-name'];
  checkKeyPair(tls, { ca: '--tls-ca', cert: '--tls-cert', key: '--tls-key' });
  return { tls, check: () => {} };
}

/** The longest duration taken: a year, far past any recording, and well within what timestamps in µs can hold. */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Go's and kubectl's durations, to milliseconds: "30s", "1h30m", "2m0.5s", "500ms", or plain seconds ("90"); from
 * 1 ms to a year. Units ms, s, m, h, each at most once and largest first, as Go's time.Duration prints them.
 */
export function parseDuration(text: string, flag: string): number {
  const t = text.trim();
  const parts = /^\d+(?:\.\d+)?$/.test(t) ? [[t, t, 's']] : [...t.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  const units = parts.map((p) => p[2]!);
  const ordered = units.every((u, i) => i === 0 || UNIT_MS[u]! < UNIT_MS[units[i - 1]!]!);
  if (parts.length === 0 || !ordered || parts.map((p) => p[0]).join('') !== t)
    throw new UsageError(`${flag} expects a duration like 30s, 1h30m or 500ms; got '${printable(text.slice(0, 80))}'`);
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
  if (!(ms >= 1 && ms <= MAX_DURATION_MS))
    throw new UsageError(
      `${flag} expects a duration from 1ms to 8760h (a year); got '${printable(text.slice(0, 80))}'`,
    );
  return ms;
}

/**
 * --since/--until: an RFC 3339 time ("2026-12-07T11:00:00Z", "2026-12-07T12:00:00+01:00") or a duration back from
 * now ("10m", "1h30m"), as kubectl logs and hubble observe take them. Microseconds since the epoch.
 */
export function parseTimeBound(text: string, flag: string, nowMs = Date.now()): number {
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
  if (rfc3339.test(text.trim())) {
    const t = text.trim();
    const ms = Date.parse(t.replace(/(\.\d{3})\d+/, '$1'));
    if (Number.isFinite(ms)) {
      const extra = /\.\d{3}(\d{1,3})/.exec(t)?.[1]?.padEnd(3, '0');
      return ms * 1000 + (extra ? Number(extra) : 0);
    }
  }
  if (/^[\d.]+(ms|s|m|h)/.test(text.trim())) return (nowMs - parseDuration(text, flag)) * 1000;
  throw new UsageError(
    `${flag} expects an RFC 3339 time (2026-12-07T11:00:00Z) or a duration back from now (10m, 1h30m); got '${printable(text.slice(0, 80))}'`,
  );
}

/** --since/--until/--service of commands that read trace files, checked; the range must not be empty. */
export function parseNarrowing(values: { since?: string; until?: string }, nowMs = Date.now()) {
  const since = values.since === undefined ? undefined : parseTimeBound(values.since, '--since', nowMs);
  const until = values.until === undefined ? undefined : parseTimeBound(values.until, '--until', nowMs);
  if (since !== undefined && until !== undefined && !(since < until))
    throw new UsageError(`--since must come before --until; got ${values.since} and ${values.until}`);
  return { since, until };
}

export const timeRangeOptions = { since: { type: 'string' }, until: { type: 'string' } } as const;

/** The help lines of --since and --until, descriptions starting at `column`. */
export function timeRangeUsage(column: number): string {
  const pad = ' '.repeat(column);
  return [
    `  ${'--since T'.padEnd(column - 3)} only events from T on: RFC 3339 (2026-12-07T11:00:00Z) or a`,
    `${pad}duration back from now (10m, 1h30m); the rules in force before T still name them`,
    `  ${'--until T'.padEnd(column - 3)} only events before T (same forms)`,
  ].join('\n');
}

/**
 * The output flags, as kubectl and hubble spell them: -o/--output takes the FORMAT (--format is its older spelling),
 * -w/--write the FILE (tcpdump's letter for writing a capture).
 */
export const outputOptions = {
  output: { type: 'string', short: 'o' },
  format: { type: 'string' },
  write: { type: 'string', short: 'w' },
} as const;

/**
 * The format asked with -o/--output or --format; `-o FILE`, the spelling before, is refused with a hint rather than
 * guessed (it once wrote a file named 'json' into the current directory without a word).
 */
export function parseOutputFormat<F extends string>(
  values: { output?: string; format?: string },
  formats: readonly F[],
  fallback: F,
): F {
  const { output, format } = values;
  if (output !== undefined && format !== undefined && output !== format)
    throw new UsageError(`-o ${printable(output)} and --format ${printable(format)} disagree; give one of them`);
  const chosen = output ?? format ?? fallback;
  if ((formats as readonly string[]).includes(chosen)) return chosen as F;
  const flag = output !== undefined ? '-o' : '--format';
  const hint =
    output !== undefined ? `; to write to a file give -w FILE (e.g. -w ${printable(output.slice(0, 80))})` : '';
  throw new UsageError(
    `${flag} takes the output format, one of ${formats.join(', ')}; got '${printable(chosen.slice(0, 80))}'${hint}`,
  );
}

/** A whole number in [min, max], for flags that count things. */
export function parseCount(text: string, flag: string, min: number, max: number): number {
  const n = /^\d{1,15}$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(n >= min && n <= max))
    throw new UsageError(`${flag} expects a whole number from ${min} to ${max}; got '${text}'`);
  return n;
}

/** "host:port" or "[v6]:port" with a port up to 65535 (0: any free one), as given. */
export function parseHostPort(text: string, flag: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535)
    throw new UsageError(`${flag} expects HOST:PORT, e.g. 127.0.0.1:7390 or [::1]:0; got '${text}'`);
  return text;
}

/**
 * --ringbuf-bytes: the kernel takes only a power of two, of at least a page, that fits the map's 32-bit size. (A
 * bitwise power-of-two test would wrap past 2^32 and pass 1.1e26: the fuzzer found that.)
 */
export function parseRingBufferBytes(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isInteger(n) && n >= 4096 && n <= 2 ** 31 && Number.isInteger(Math.log2(n)))) {
    throw new UsageError(`--ringbuf-bytes expects a power of two from 4096 to 2147483648 (2 GiB); got '${text}'`);
  }
  return n;
}

const commandSignals = new Set<AbortController>();

/**
 * An AbortSignal fired by the first SIGINT or SIGTERM, or by stdout breaking (trace |
 * head), so long-running commands end cleanly (detach, flush, remove what they made),
 * and by the command's end (endCommand), so what it left running (API watches) stops.
 * A second signal is left to the default handler so a stuck cleanup can still be interrupted.
 */
export function shutdownSignal(): AbortSignal {
  const ac = new AbortController();
  commandSignals.add(ac);
  const onSignal = (sig: NodeJS.Signals) => ac.abort(new Error(`received ${sig}`));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  ac.signal.addEventListener(
    'abort',
    () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      commandSignals.delete(ac);
    },
    { once: true },
  );
  onStdoutBroken(() => ac.abort(new Error('stdout was closed or failed')));
  return ac.signal;
}

/** Called once the command has returned: fires the shutdown signals it took, so the process can end by itself. */
export function endCommand(): void {
  for (const ac of [...commandSignals]) ac.abort(new Error('the command has finished'));
}
