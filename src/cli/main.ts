// Entry point: picks the command, loads it lazily, turns typed errors into one
// clear line and an exit code. The only place that ends the process, and only once
// stdout and stderr have drained.
import { UsageError, exitCodeOf } from '../core/errors.js';
import { systemErrorCode } from '../core/file-errors.js';
import { drainOutput, guardOutput, isStdoutError, stdoutFailure } from './output.js';
import { endCommand, type Command } from './command.js';
import { closestWords } from '../core/near-words.js';
import { printable } from '../core/text.js';

const commands: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  trace: {
    summary: 'print DNAT decisions and conntrack insertions live, like conntrack -E',
    load: () => import('./commands/trace.js'),
  },
  agent: {
    summary: 'run the probe on a node and serve its events over gRPC',
    load: () => import('./commands/agent.js'),
  },
  record: { summary: "record agents' events to a trace file", load: () => import('./commands/record.js') },
  export: { summary: "print a trace file's events as JSON lines", load: () => import('./commands/export.js') },
  tui: {
    summary: 'live terminal UI: stickiness, spread and affinity per Service',
    load: () => import('./commands/tui.js'),
  },
  report: {
    summary: 'aggregate agents or a trace file into a stickiness/spread report (json, md, html)',
    load: () => import('./commands/report.js'),
  },
  certs: {
    summary: "make a CA and the agents' and clients' certificates for mutual TLS",
    load: () => import('./commands/certs.js'),
  },
  serve: {
    summary: 'long-running aggregator: Prometheus /metrics, reports and health over HTTP',
    load: () => import('./commands/serve.js'),
  },
  lab: {
    summary: 'build a kube-proxy node out of network namespaces, and drive traffic',
    load: () => import('./commands/lab.js'),
  },
  demo: {
    summary: 'the lab with traffic running, traced live (Ctrl-C ends it and cleans up)',
    load: () => import('./commands/demo.js'),
  },
  doctor: {
    summary: 'check that this machine can run the probe, and say what to fix',
    load: () => import('./commands/doctor.js'),
  },
};

/** How the CLI is invoked: as `stickyscope`, or as a kubectl plugin with a subset of the commands. */
export interface Program {
  /** The name help and errors use, e.g. 'kubectl stickyscope'. */
  name: string;
  /** The commands it offers, in help order; default all. */
  commands?: string[];
  /** A closing paragraph of the top-level help. */
  note?: string;
}

const STICKYSCOPE: Program = { name: 'stickyscope' };

const offered = (program: Program) => program.commands ?? Object.keys(commands);

export function usage(program: Program = STICKYSCOPE): string {
  const names = offered(program);
  const width = Math.max(...names.map((c) => c.length));
  const lines = names.map((name) => `  ${name.padEnd(width)}  ${commands[name]!.summary}`);
  const note = program.note ? `\n\n${program.note}` : '';
  return `Usage: ${program.name} <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun '${program.name} <command> --help' for a command's options; '${program.name} --version' for the version.${note}`;
}

/** A command's help as `program` is called: 'stickyscope report' becomes e.g. 'kubectl stickyscope report'. */
function renamed(text: string, program: Program): string {
  if (program === STICKYSCOPE) return text;
  const names = offered(program).join('|');
  return text.replace(new RegExp(`(^|[\\s'])stickyscope (?=(?:${names})\\b)`, 'g'), `$1${program.name} `);
}

export async function main(argv: string[], program: Program = STICKYSCOPE): Promise<void> {
  honourNoColor();
  const name = argv[0];
  // With nothing registered to wind the command down, a broken stdout ends the process now.
  guardOutput(() => void finish(name, 0, program, 'now'));
  const code = await run(argv, program);
  endCommand();
  await finish(name, code, program, 'when-idle');
}

/**
 * NO_COLOR (no-color.org): any non-empty value turns colour off, unless FORCE_COLOR says otherwise. chalk, which
 * Ink draws with, reads only FORCE_COLOR, so NO_COLOR becomes FORCE_COLOR=0 before any command loads it.
 */
function honourNoColor(): void {
  if (process.env.NO_COLOR && process.env.FORCE_COLOR === undefined) process.env.FORCE_COLOR = '0';
}

/** Runs the command; resolves to the exit code, having printed any error. */
async function run(argv: string[], program: Program): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage(program) + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${program.name} ${await version()}\n`);
    return 0;
  }
  const entry = offered(program).includes(name) ? commands[name] : undefined;
  try {
    if (!entry) {
      const near = closestWords(name, offered(program));
      const hint = near.length > 0 ? `did you mean '${near[0]}'? ` : '';
      throw new UsageError(
        `unknown command '${printable(name.slice(0, 80))}'; ${hint}expected one of: ${offered(program).join(', ')}`,
      );
    }
    const { command } = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(renamed(command.usage.trimEnd(), program) + '\n');
      return 0;
    }
    return (await command.run(rest)) ?? 0;
  } catch (err) {
    // A command that waited on stdout rethrows its error: finish() reports it once.
    if (isStdoutError(err)) return 0;
    const code = exitCodeOf(err);
    if (code === 1 && systemErrorCode(err) !== undefined && (err as NodeJS.ErrnoException).syscall !== undefined) {
      // A system error no command turned into a typed one is still not a bug to show a stack for.
      process.stderr.write(`${program.name} ${name}: ${(err as Error).message}\n`);
      return 3;
    }
    if (code === 1) process.stderr.write(`${program.name}: ${(err as Error)?.stack ?? String(err)}\n`);
    else process.stderr.write(`${program.name} ${name}: ${(err as Error).message}\n`);
    if (err instanceof UsageError)
      process.stderr.write(`Run '${program.name} ${entry ? name + ' ' : ''}--help' for usage.\n`);
    return code;
  }
}

/** The package's version, from the package.json shipped beside dist/ (the image ships it too). */
async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(new URL('../../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

let finishing = false;

/**
 * How long a finished command may leave handles open (a gRPC channel closing, a child's
 * pipes) before the process is ended regardless.
 */
const LINGER_MS = 2000;

/**
 * Exits once stdout and stderr have drained; a write error on stdout makes a success a failure.
 * 'when-idle' lets the event loop run dry instead of calling process.exit: on Node 24,
 * process.exit can deadlock against a background compile job waiting for a GC
 * (nodejs/node#54918; about 1 run in 15 of a short export hung for good here), while a
 * natural exit tears the heap down first, which releases that job.
 */
async function finish(
  name: string | undefined,
  code: number,
  program: Program,
  how: 'now' | 'when-idle',
): Promise<void> {
  if (finishing) return;
  finishing = true;
  await drainOutput();
  const failure = stdoutFailure();
  if (failure) {
    process.stderr.write(
      `${program.name}${name && offered(program).includes(name) ? ' ' + name : ''}: ${failure.message}\n`,
    );
    await drainOutput();
    if (code === 0) code = exitCodeOf(failure);
  }
  if (how === 'now') process.exit(code);
  process.exitCode = code;
  setTimeout(() => process.exit(code), LINGER_MS).unref();
}
