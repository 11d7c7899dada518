// Entry point: picks the command, loads it lazily, turns typed errors into one
// clear line and an exit code. The only place that calls process.exit.
import { UsageError, exitCodeOf } from '../core/errors.js';
import type { Command } from './command.js';

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

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: stickyscope <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'stickyscope <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    process.exit(name === undefined ? 2 : 0);
  }
  const entry = commands[name];
  try {
    if (!entry) throw new UsageError(`unknown command '${name}'; expected one of: ${Object.keys(commands).join(', ')}`);
    const { command } = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(command.usage.trimEnd() + '\n');
      process.exit(0);
    }
    const code = await command.run(rest);
    process.exit(code ?? 0);
  } catch (err) {
    const code = exitCodeOf(err);
    if (code === 1) process.stderr.write(`stickyscope: ${(err as Error)?.stack ?? String(err)}\n`);
    else process.stderr.write(`stickyscope ${name}: ${(err as Error).message}\n`);
    if (err instanceof UsageError)
      process.stderr.write(`Run 'stickyscope ${entry ? name + ' ' : ''}--help' for usage.\n`);
    process.exit(code);
  }
}
