// `stickyscope report`: the per-Service report (json, md, html) of a trace file or of live agents.
import {
  clientTlsOptions,
  clientTlsUsage,
  parse,
  parseClientTls,
  parseDuration,
  outputOptions,
  parseNarrowing,
  parseOutputFormat,
  shutdownSignal,
  timeRangeOptions,
  timeRangeUsage,
  type Command,
} from '../command.js';
import { UsageError } from '../../core/errors.js';
import { checkWritable, writeTextFile } from '../../core/file-errors.js';
import { printable } from '../../core/text.js';
import { k8sOptions, k8sUsage, refuseK8sFlagsAlone } from '../../k8s/cli.js';
import { parseServices, serviceOption, serviceUsage } from '../service-option.js';
import { parseAgentAddresses } from '../agent-address.js';
import { commandLine } from '../command-line.js';

export const command: Command = {
  usage: `Usage: stickyscope report FILE|DIR... [options]
       stickyscope report --agent HOST:PORT [--agent ...] --duration D [options]
       stickyscope report --k8s [-n NS] [--agent-namespace N] [--context C] --duration D [options]

Aggregates selections into a report per Service: backend shares and spread
(max/mean, CV, Jain, chi-square p), stickiness against random choice (1/K), session
affinity verdicts (held, violation, forcedRepick, expired) and per-client detail.
From trace files (see 'stickyscope record'; several, e.g. one recorded on each node, or
a directory of them, are merged in time order) it reads as fast as the machine allows;
from agents it listens for the duration, then reports. Both give the same report for
the same events. With --k8s the agents are found through the Kubernetes API, and
Service names, affinity (source k8s) and endpoints come from the API.

Options:
${k8sUsage(26)}
${clientTlsUsage(26)}
${serviceUsage(26)}
${timeRangeUsage(26)}
  --duration D            with --agent or --k8s: how long to listen (30s, 5m)
  -o, --output FMT        json (docs/design.md's report object), md (tables) or html (one
                          self-contained page with charts); default json (--format FMT also works)
  -w, --write FILE        write the report to FILE instead of stdout
  --window D              report only the last D of the events (60s, 10m); default:
                          everything in the file or the listening time
  --summaries             with --agent or --k8s: take the agents' per-period summaries
                          (SubscribeSummaries) instead of every event, to cover a whole
                          cluster; agents without them are followed raw. No per-client rows
                          or node divergence; counts up to each agent's last summary
  -h, --help              this text

Examples:
  stickyscope report capture.trace -o html -w report.html
  stickyscope report capture.trace --service lab/web --since 2026-12-07T11:00:00Z --until 2026-12-07T11:10:00Z
  stickyscope report --agent 127.0.0.1:7390 --duration 30s -o md
  stickyscope report --k8s --duration 1m -o html -w cluster.html`,

  async run(argv) {
    const args = parseReportArgs(argv);
    const text = args.live ? await reportLive(args) : await reportFiles(args);
    if (args.values.write) await writeTextFile(args.values.write, text, 'write report to');
    else process.stdout.write(text);
    return 0;
  },
};

const warnLine = (message: string) => process.stderr.write(`stickyscope report: warning: ${printable(message)}\n`);

/** The flags, checked against each other before anything is read or listened to. */
function parseReportArgs(argv: string[]) {
  const { values, positionals } = parse(
    argv,
    {
      ...k8sOptions,
      ...clientTlsOptions,
      ...serviceOption,
      ...timeRangeOptions,
      ...outputOptions,
      duration: { type: 'string' },
      window: { type: 'string' },
      summaries: { type: 'boolean' },
    },
    true,
  );
  const format = parseOutputFormat(values, ['json', 'md', 'html'] as const, 'json');
  const windowSeconds = values.window === undefined ? undefined : parseDuration(values.window, '--window') / 1000;
  if (windowSeconds !== undefined && !(windowSeconds > 0))
    throw new UsageError(`--window expects a positive duration; got '${values.window}'`);
  const listed = parseAgentAddresses(values.agent ?? []);
  const services = parseServices(values);
  if ((services || values.namespace !== undefined) && values.summaries)
    throw new UsageError(
      `${services ? '--service' : '-n/--namespace'} and --summaries do not go together: summaries cover every Service`,
    );
  const live = listed.length > 0 || values.k8s === true;
  const liveFlag = values.k8s ? '--k8s' : `--agent ${listed.join(' ')}`;
  const range = parseNarrowing(values);
  if (live && (range.since !== undefined || range.until !== undefined))
    throw new UsageError('--since and --until are for trace FILEs; agents report from now for --duration');
  if (live && positionals.length > 0)
    throw new UsageError(
      `report reads either a FILE or agents (--agent, --k8s), not both; got ${positionals.join(' ')} and ${liveFlag}`,
    );
  refuseK8sFlagsAlone(values);
  if (values.summaries && !live)
    throw new UsageError('--summaries is for agents (--agent, --k8s): a trace FILE holds every event already');
  if (!live && positionals.length === 0)
    throw new UsageError(
      'report expects trace FILEs (or a directory of them), --agent HOST:PORT or --k8s; got none of them',
    );
  const command = commandLine('report', argv);
  return { values, positionals, format, windowSeconds, services, live, range, command };
}

type ReportArgs = ReturnType<typeof parseReportArgs>;

/** Listens to the agents (--agent, --k8s) for --duration, then reports. */
async function reportLive({ values, format, windowSeconds, command, ...args }: ReportArgs): Promise<string> {
  if (values.duration === undefined)
    throw new UsageError(
      `report ${values.k8s ? '--k8s' : '--agent'} needs --duration D: how long to listen before reporting`,
    );
  const durationMs = parseDuration(values.duration, '--duration');
  // Found now rather than after listening for the whole duration.
  if (values.write) await checkWritable(values.write, 'write report to');
  const security = await parseClientTls(values);
  const signal = shutdownSignal();
  const { namespaceServices, resolveAgentsFromArgs, startCatalogFeed } = await import('../../k8s/cli.js');
  const resolved = await resolveAgentsFromArgs(values, signal);
  const warn = (err: Error) => warnLine(err.message);
  const catalogs = await startCatalogFeed(resolved, warn);
  const services = namespaceServices(values.namespace, catalogs, args.services);
  const agents = resolved.addresses;
  security.check(agents);
  resolved.discovery?.onChange((now) =>
    warn(
      new Error(`the ready agents changed to ${now.join(', ') || 'none'}; this report listens to ${agents.join(', ')}`),
    ),
  );
  process.stderr.write(`listening to ${agents.join(', ')} for ${values.duration} (Ctrl-C reports early)\n`);
  const { AgentReach } = await import('../agent-reach.js');
  const reach = new AgentReach();
  const from = values.summaries
    ? (await import('../../serve/summaries-once.js')).reportFromSummaries
    : (await import('../../report/from-file.js')).reportFromAgents;
  const text = await from(agents, {
    format,
    windowSeconds,
    command,
    durationMs,
    signal,
    catalogs,
    services,
    onWarning: warnLine,
    tls: security.tls,
    nodes: resolved.discovery?.nodes(),
    onStatus: (s) => {
      reach.note(s);
      process.stderr.write(`agent ${s.address} (${s.node}) ${s.state}${s.reason ? `: ${s.reason}` : ''}\n`);
    },
  });
  for (const a of reach.check(agents, 'no report written'))
    warn(new Error(`agent ${a} was never reached: the report has nothing from it`));
  return text;
}

/** Reads trace FILEs (or directories of them), narrowed to --since/--until and --service. */
async function reportFiles({ positionals, format, windowSeconds, services, range, command }: ReportArgs) {
  const { reportFromFile } = await import('../../report/from-file.js');
  const { traceFiles } = await import('../../record/trace-files.js');
  const files = await traceFiles(positionals, (p, why) => warnLine(`${p}: ${why}; skipped`));
  return reportFromFile(files, {
    format,
    windowSeconds,
    command,
    onWarning: (w) => warnLine(w.message),
    narrowing: { ...range, services, onWarning: warnLine },
  });
}
