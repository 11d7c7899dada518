// `stickyscope serve`: the aggregator as a long-running service: follows agents as they
// come and go, serves /metrics (Prometheus), the current report and health over HTTP.
import { parseAgentAddresses } from '../agent-address.js';
import {
  clientTlsOptions,
  clientTlsUsage,
  parse,
  parseClientTls,
  parseCount,
  parseDuration,
  parseHostPort,
  shutdownSignal,
  type Command,
} from '../command.js';
import { UsageError } from '../../core/errors.js';
import { printable } from '../../core/text.js';
import { k8sOptions, k8sUsage } from '../../k8s/cli.js';

const DEFAULT_WINDOWS = ['1m', '5m'];

export const command: Command = {
  usage: `Usage: stickyscope serve --agent HOST:PORT [--agent ...] [options]
       stickyscope serve --k8s [--agent-namespace N] [--selector S] [--kubeconfig F] [options]

Aggregates agents' events for as long as it runs and serves over HTTP:
  /metrics                 Prometheus text format: per Service selections, spread,
                           stickiness, affinity verdicts and violation causes, per backend
                           share; per agent up and lost events
  /report.json, .md, .html the report of 'stickyscope report' for a window
                           (?window=5m, one of those kept, or ?window=all since start);
                           on a --listen on loopback, or over mutual TLS (--report-listen)
  /healthz, /readyz        alive; ready once every known agent was subscribed once and
                           while at least one is up
Agents that cannot be reached are retried with backoff; with --k8s, agents that become
ready are followed within seconds and those that go are dropped (their node's window is
marked missing). SIGINT/SIGTERM stops it.

Options:
${k8sUsage(31, { namespace: false })}
${clientTlsUsage(31)}
  --listen HOST:PORT           where to serve HTTP (default 127.0.0.1:7391; port 0 picks one)
  --window D                   a window to keep (repeat for several; the first is the
                               default and the metrics' gauges'); default ${DEFAULT_WINDOWS.join(', ')}
  --summaries                  take the agents' per-period summaries (SubscribeSummaries)
                               instead of every event: what covers a cluster of hundreds
                               or thousands of nodes. Agents without them (older ones) are
                               followed raw and summarised here. No per-client figures
                               (node divergence), distinct clients estimated
  --metrics-max-services N     at most N Services in /metrics, those with the most
                               selections; the rest are counted (default 500)
  --report-listen HOST:PORT    also serve the reports over HTTPS there, to clients with a
                               certificate of --report-tls-client-ca only (mutual TLS, as the
                               agents' stream). A plain --listen beyond loopback answers
                               /report.* 403: a report names every client address
  --report-tls-cert FILE       that listener's certificate (serverAuth) ...
  --report-tls-key FILE        ... its key ...
  --report-tls-client-ca FILE  ... and the CA its clients' certificates must be signed by
  --report-tls-dir DIR         or all three from a Secret: DIR/tls.crt, tls.key, ca.crt
  --max-report-builds N        at most N report requests at a time (default 2), built on
                               a thread of their own; more are answered 503 with Retry-After
  --report-every D             write the default window's report every D (5m) ...
  --report-dir DIR             ... into DIR, as stickyscope-report-TIME.FORMAT
  --report-keep N              keep the newest N of them (default 24)
  --report-format F            json, md or html (default json)
  --ready-file F               once listening, write the bound HOST:PORT to F (removed at exit)
  -h, --help                   this text

Examples:
  stickyscope serve --agent 127.0.0.1:7390 --listen 127.0.0.1:7391
  curl -s '127.0.0.1:7391/report.md?window=5m'
  stickyscope serve --k8s --listen 0.0.0.0:7391 --report-listen 0.0.0.0:7392 \\
    --report-tls-dir /etc/stickyscope/report-tls --report-every 1h --report-dir /var/lib/stickyscope
  curl -s --cacert ca.crt --cert client.crt --key client.key 'https://localhost:7392/report.html'`,

  async run(argv) {
    const { values } = parseServeArgv(argv);
    if (values.namespace !== undefined)
      throw new UsageError(
        `serve covers every Service, so -n/--namespace (the Services' namespace) does not apply; for the agent pods' namespace use --agent-namespace ${printable(values.namespace.slice(0, 80))}`,
      );
    const listen = parseHostPort(values.listen, '--listen');
    const listed = parseAgentAddresses(values.agent ?? []);
    if (listed.length === 0 && !values.k8s)
      throw new UsageError('serve needs agents to follow: --agent HOST:PORT (repeatable) or --k8s');
    const windows = await parseWindows(values.window ?? DEFAULT_WINDOWS);
    const maxServices = parseCount(values['metrics-max-services'], '--metrics-max-services', 1, 1_000_000);
    const maxReportBuilds = parseCount(values['max-report-builds'], '--max-report-builds', 1, 64);
    const reports = await parseReports(values);
    const security = await parseClientTls(values);
    if (values['report-listen'] !== undefined) parseHostPort(values['report-listen'], '--report-listen');
    const { parseReportTls } = await import('../../serve/report-tls.js');
    const reportTls = parseReportTls(values);

    const { resolveAgentsFromArgs, startCatalogFeed, agentDirectory } = await import('../../k8s/cli.js');
    const { admittedAgents } = await import('../../serve/agent-admission.js');
    const { runServe } = await import('../../serve/run.js');
    const say = (line: string) => process.stderr.write(`stickyscope serve: ${printable(line)}\n`);
    const signal = shutdownSignal();
    const resolved = await resolveAgentsFromArgs(values, signal, { allowNone: true });
    const catalogs = await startCatalogFeed(resolved, (err) => say(`warning: ${err.message}`));
    const agents = admittedAgents(
      agentDirectory(resolved, listed),
      (addresses) => security.check(addresses),
      () => resolved.discovery?.nodes() ?? {},
      (message) => say(`warning: ${message}`),
    );
    const summaries = values.summaries === true;
    const readyFile = values['ready-file'];
    const options = {
      listen,
      windows,
      summaries,
      maxServices,
      maxReportBuilds,
      reports,
      readyFile,
      agents,
      catalogs,
      say,
    };
    await runServe({ ...options, tls: security.tls, reportTls }, signal);
    return 0;
  },
};

function parseServeArgv(argv: string[]) {
  return parse(argv, {
    ...k8sOptions,
    ...clientTlsOptions,
    listen: { type: 'string', default: '127.0.0.1:7391' },
    window: { type: 'string', multiple: true },
    'metrics-max-services': { type: 'string', default: '500' },
    'max-report-builds': { type: 'string', default: '2' },
    'report-every': { type: 'string' },
    'report-dir': { type: 'string' },
    'report-keep': { type: 'string', default: '24' },
    'report-format': { type: 'string', default: 'json' },
    'ready-file': { type: 'string' },
    summaries: { type: 'boolean' },
    'report-listen': { type: 'string' },
    'report-tls-cert': { type: 'string' },
    'report-tls-key': { type: 'string' },
    'report-tls-client-ca': { type: 'string' },
    'report-tls-dir': { type: 'string' },
  });
}

type ServeValues = ReturnType<typeof parseServeArgv>['values'];

/** The --window durations, in seconds. */
async function parseWindows(given: string[]): Promise<number[]> {
  const { parseWindowParam } = await import('../../serve/window-param.js');
  return given.map((w) => {
    const s = parseWindowParam(w);
    if (typeof s !== 'number') throw new UsageError(`--window expects a duration like 90s, 5m or 1h; got '${w}'`);
    parseDuration(w, '--window');
    return s;
  });
}

/** The periodic reports (--report-every, --report-dir, --report-keep, --report-format), if asked for. */
async function parseReports(
  values: ServeValues,
): Promise<{ dir: string; everyMs: number; keep: number; format: 'json' | 'md' | 'html' } | undefined> {
  const given = values['report-format'];
  if (given !== 'json' && given !== 'md' && given !== 'html')
    throw new UsageError(`--report-format expects json, md or html; got '${given}'`);
  const format: 'json' | 'md' | 'html' = given;
  const keep = parseCount(values['report-keep'], '--report-keep', 1, 1_000_000);
  const every = values['report-every'];
  const dir = values['report-dir'];
  if ((every === undefined) !== (dir === undefined))
    throw new UsageError('--report-every and --report-dir go together; got only one of them');
  const everyMs = every === undefined ? undefined : parseDuration(every, '--report-every');
  if (dir !== undefined) await checkDir(dir);
  return dir !== undefined && everyMs !== undefined ? { dir, everyMs, keep, format } : undefined;
}

async function checkDir(dir: string): Promise<void> {
  const { access, stat, constants } = await import('node:fs/promises');
  const { fileError } = await import('../../core/file-errors.js');
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await access(dir, constants.W_OK);
  } catch (err) {
    throw fileError(err, 'write reports into', dir, 'write');
  }
}
