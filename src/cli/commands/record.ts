// `stickyscope record`: agents' events merged in time order into a checksummed trace file.
import {
  clientTlsOptions,
  clientTlsUsage,
  parse,
  parseClientTls,
  parseDuration,
  shutdownSignal,
  type Command,
} from '../command.js';
import { UsageError } from '../../core/errors.js';
import { printable } from '../../core/text.js';
import { k8sOptions, k8sUsage } from '../../k8s/cli.js';
import { parseServices, serviceOption, serviceUsage } from '../service-option.js';
import { parseAgentAddresses } from '../agent-address.js';

export const command: Command = {
  usage: `Usage: stickyscope record --agent HOST:PORT [--agent ...] -w FILE [--duration 30s] [--rotate-bytes N]
       stickyscope record --k8s [-n NS] [--agent-namespace N] [--context C] -w FILE [...]

Subscribes to one or more agents and writes their events, merged in time order, to a
trace file: 'stickyscope report FILE', 'export FILE' and 'tui --replay FILE' read it.
Each frame of the file carries a checksum, so damage is found and skipped on reading.
Progress (events, bytes, lost events) goes to stderr every second. Runs until
--duration has passed or Ctrl-C, then closes the file cleanly. With --k8s the agents
are found through the Kubernetes API, and the API's Service names, affinity and
endpoints are recorded too, so a report from the file has them.

Options:
${k8sUsage(22)}
${clientTlsUsage(22)}
${serviceUsage(22)}
  -w, --write FILE    the trace file to write (replaced if it exists)
  --duration D        stop after D (30s, 5m, 1h; at most 8760h); default: until Ctrl-C
  --rotate-bytes N    start FILE.1, FILE.2, ... once a file reaches N bytes (suffixes k, M, G allowed)
  -h, --help          this text

Examples:
  stickyscope record --agent 127.0.0.1:7390 -w capture.trace --duration 2m
  stickyscope record --agent node1:7390 --agent node2:7390 -w day.trace --rotate-bytes 512M
  stickyscope record --k8s -w cluster.trace --duration 10m
  stickyscope record --k8s --service default/web -w web.trace --duration 10m
  stickyscope record --k8s --tls-ca ca.crt --tls-cert client.crt --tls-key client.key -w cluster.trace`,

  async run(argv) {
    const { values } = parse(argv, {
      ...k8sOptions,
      ...clientTlsOptions,
      ...serviceOption,
      write: { type: 'string', short: 'w' },
      // Only to refuse it with a hint: -o is the output format elsewhere, and a trace file has one format.
      output: { type: 'string', short: 'o' },
      duration: { type: 'string' },
      'rotate-bytes': { type: 'string' },
    });
    const listed = parseAgentAddresses(values.agent ?? []);
    if (listed.length === 0 && !values.k8s)
      throw new UsageError('record needs at least one --agent HOST:PORT, or --k8s');
    if (values.output !== undefined)
      throw new UsageError(
        `record writes a trace file: give it with -w FILE (e.g. -w ${printable(values.output.slice(0, 80))}); -o is the output format of report, export and trace`,
      );
    if (!values.write) throw new UsageError('record needs -w FILE, the trace file to write');
    const durationMs = values.duration === undefined ? undefined : parseDuration(values.duration, '--duration');
    const rotateBytes = values['rotate-bytes'] === undefined ? undefined : parseBytes(values['rotate-bytes']);
    const listedServices = parseServices(values);
    const security = await parseClientTls(values);

    const signal = shutdownSignal();
    const { namespaceServices, resolveAgentsFromArgs, startCatalogFeed } = await import('../../k8s/cli.js');
    const resolved = await resolveAgentsFromArgs(values, signal);
    const warn = (err: Error) => process.stderr.write(`\nstickyscope record: warning: ${err.message}\n`);
    const catalogs = await startCatalogFeed(resolved, warn);
    const services = namespaceServices(values.namespace, catalogs, listedServices);
    const agents = resolved.addresses;
    security.check(agents);
    resolved.discovery?.onChange((now) =>
      warn(
        new Error(
          `the ready agents changed to ${now.join(', ') || 'none'}; this recording follows ${agents.join(', ')}`,
        ),
      ),
    );
    const { recordAgents } = await import('../../record/recorder.js');
    const started = Date.now();
    // The progress line is ended however the recording ends, so an error starts a line of its own.
    let progressShown = false;
    const { AgentReach } = await import('../agent-reach.js');
    const reach = new AgentReach();
    const stats = await recordAgents(agents, values.write, {
      durationMs,
      rotateBytes,
      signal,
      catalogs,
      services,
      tls: security.tls,
      nodes: resolved.discovery?.nodes(),
      onStatus: (s) => {
        reach.note(s);
        process.stderr.write(`\nagent ${s.address} (${s.node}) ${s.state}${s.reason ? `: ${s.reason}` : ''}\n`);
      },
      onWarning: (message) => process.stderr.write(`\nstickyscope record: warning: ${printable(message)}\n`),
      onProgress: (s) => {
        progressShown = true;
        const secs = Math.round((Date.now() - started) / 1000);
        // While no agent is up the line says so, every tick, rather than count the catalogs the file starts with.
        const agentsNow = reach.now(agents.length);
        process.stderr.write(
          `\r${secs}s  ${s.events} events  ${formatBytes(s.bytes)}  ${s.lostEvents} lost  ${s.files.length > 1 ? `${s.files.length} files  ` : ''}${printable(agentsNow).slice(0, 160)}${process.stderr.isTTY ? '\x1b[K' : '   '}`,
        );
      },
    }).finally(() => progressShown && process.stderr.write('\n'));
    process.stderr.write(`recorded ${stats.events} events (${stats.lostEvents} lost) to ${stats.files.join(', ')}\n`);
    for (const a of reach.check(agents, `${stats.files.join(', ')} holds no events`))
      process.stderr.write(
        `stickyscope record: warning: agent ${a} was never reached: the trace has nothing from it\n`,
      );
    return 0;
  },
};

function parseBytes(text: string): number {
  const m = /^(\d+)([kKmMgG])?$/.exec(text.trim());
  if (!m || Number(m[1]) === 0)
    throw new UsageError(`--rotate-bytes expects a positive byte count like 100000, 64M or 1G; got '${text}'`);
  return (
    Number(m[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g']
  );
}

function formatBytes(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
