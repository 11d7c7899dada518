// `stickyscope serve`: the aggregator as a long-running service: follows agents as they
// come and go, serves /metrics (Prometheus), the current report and health over HTTP.
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
import { EnvironmentError, UsageError } from '../../core/errors.js';
import { printable } from '../../core/text.js';
import { k8sOptions, k8sUsage } from '../../k8s/cli.js';
import { parseAgentAddresses } from '../agent-address.js';

const DEFAULT_WINDOWS = ['1m', '5m'];
const INFO_EVERY_MS = 5000;
/** How often agents followed raw in --summaries mode are summarised (the agents' default period). */
const SUMMARY_PERIOD_MS = 2000;
/** A static agent that comes up late is found within ~2 s, not the 5 s of one-shot commands. */
const BACKOFF = { initialMs: 200, maxMs: 2000 };

export const command: Command = {
  usage: `Usage: stickyscope serve --agent HOST:PORT [--agent ...] [options]
       stickyscope serve --k8s [--namespace N] [--selector S] [--kubeconfig F] [options]

Aggregates agents' events for as long as it runs and serves over HTTP:
  /metrics                 Prometheus text format: per Service selections, spread,
                           stickiness, affinity verdicts and violation causes, per backend
                           share; per agent up and lost events
  /report.json, .md, .html the report of 'stickyscope report' for a window
                           (?window=5m, one of those kept, or ?window=all since start)
  /healthz, /readyz        alive; ready once every known agent was subscribed once
Agents that cannot be reached are retried with backoff; with --k8s, agents that become
ready are followed within seconds and those that go are dropped (their node's window is
marked missing). SIGINT/SIGTERM stops it.

Options:
${k8sUsage(31)}
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
  --report-every D             write the default window's report every D (5m) ...
  --report-dir DIR             ... into DIR, as stickyscope-report-TIME.FORMAT
  --report-keep N              keep the newest N of them (default 24)
  --report-format F            json, md or html (default json)
  --ready-file F               once listening, write the bound HOST:PORT to F (removed at exit)
  -h, --help                   this text

Examples:
  stickyscope serve --agent 127.0.0.1:7390 --listen 127.0.0.1:7391
  curl -s '127.0.0.1:7391/report.md?window=5m'
  stickyscope serve --k8s --listen 0.0.0.0:7391 --report-every 1h --report-dir /var/lib/stickyscope`,

  async run(argv) {
    const { values } = parse(argv, {
      ...k8sOptions,
      ...clientTlsOptions,
      listen: { type: 'string', default: '127.0.0.1:7391' },
      window: { type: 'string', multiple: true },
      'metrics-max-services': { type: 'string', default: '500' },
      'report-every': { type: 'string' },
      'report-dir': { type: 'string' },
      'report-keep': { type: 'string', default: '24' },
      'report-format': { type: 'string', default: 'json' },
      'ready-file': { type: 'string' },
      summaries: { type: 'boolean' },
    });
    const listen = parseHostPort(values.listen, '--listen');
    const listed = parseAgentAddresses(values.agent ?? []);
    if (listed.length === 0 && !values.k8s)
      throw new UsageError('serve needs agents to follow: --agent HOST:PORT (repeatable) or --k8s');
    const { parseWindowParam } = await import('../../serve/window-param.js');
    const windows = (values.window ?? DEFAULT_WINDOWS).map((w) => {
      const s = parseWindowParam(w);
      if (typeof s !== 'number') throw new UsageError(`--window expects a duration like 90s, 5m or 1h; got '${w}'`);
      parseDuration(w, '--window');
      return s;
    });
    const maxServices = parseCount(values['metrics-max-services'], '--metrics-max-services', 1, 1_000_000);
    const format = values['report-format'];
    if (format !== 'json' && format !== 'md' && format !== 'html')
      throw new UsageError(`--report-format expects json, md or html; got '${format}'`);
    const keep = parseCount(values['report-keep'], '--report-keep', 1, 1_000_000);
    const every = values['report-every'];
    const dir = values['report-dir'];
    if ((every === undefined) !== (dir === undefined))
      throw new UsageError('--report-every and --report-dir go together; got only one of them');
    const everyMs = every === undefined ? undefined : parseDuration(every, '--report-every');
    if (dir !== undefined) await checkDir(dir);
    const security = await parseClientTls(values);

    const { resolveAgentsFromArgs, startCatalogFeed, agentDirectory } = await import('../../k8s/cli.js');
    const { subscribeAgents } = await import('../../protocol/client.js');
    const { ServeHub } = await import('../../serve/hub.js');
    const { AgentBook } = await import('../../serve/agent-book.js');
    const { createServeMetrics } = await import('../../serve/metrics.js');
    const { createServeHttp } = await import('../../serve/http.js');
    const { listenHttp, closeHttp } = await import('../../core/http-listen.js');
    const { startReportFiles } = await import('../../serve/report-files.js');
    const { rm } = await import('node:fs/promises');
    const { writeFileAtomic } = await import('../../core/atomic-file.js');

    const say = (line: string) => process.stderr.write(`stickyscope serve: ${printable(line)}\n`);
    const signal = shutdownSignal();
    const resolved = await resolveAgentsFromArgs(values, signal, { allowNone: true });
    const catalogs = await startCatalogFeed(resolved, (err) => say(`warning: ${err.message}`));
    security.check(agentDirectory(resolved, listed).addresses());
    // Agents that join later are held to the same rule: plaintext only on loopback without --insecure.
    const refused = new Set<string>();
    const allowed = (list: string[]) =>
      list.filter((a) => {
        try {
          security.check([a]);
          return true;
        } catch (err) {
          if (!refused.has(a)) say(`warning: not following ${a}: ${(err as Error).message}`);
          refused.add(a);
          return false;
        }
      });
    const all = agentDirectory(resolved, listed);
    const directory = {
      addresses: () => allowed(all.addresses()),
      onChange: (cb: (addresses: string[]) => void) => all.onChange(() => cb(allowed(all.addresses()))),
      nodes: () => resolved.discovery?.nodes() ?? {},
    };
    const summaries = values.summaries === true;
    const hub = new ServeHub({ windows, summaries });
    const book = new AgentBook();
    book.follow(directory.addresses());
    directory.onChange((now) => {
      book.follow(now);
      say(`following ${now.length} agent(s): ${now.join(', ') || 'none'}`);
    });
    const metrics = createServeMetrics(hub, book, maxServices);
    const server = createServeHttp({ hub, book, metrics, maxServices, onError: (err) => say(`error: ${err.message}`) });
    const readyFile = values['ready-file'];
    let stopFiles: (() => Promise<void>) | undefined;
    let stopTick = () => {};
    try {
      const bound = await listenHttp(server, listen).catch((err: Error) => {
        throw new EnvironmentError(err.message);
      });
      if (readyFile) {
        await writeFileAtomic(readyFile, `${bound}\n`, 'write the ready file');
      }
      say(
        `serving http://${bound} for ${directory.addresses().join(', ') || 'agents yet to come'}; SIGINT/SIGTERM stops`,
      );
      if (dir !== undefined && everyMs !== undefined)
        stopFiles = startReportFiles({
          dir,
          everyMs,
          keep,
          format,
          build: () => (hub.empty ? null : hub.report(windows[0]!)),
          render: (r, f) => hub.render(r, f),
          onWritten: (path) => say(`wrote ${path}`),
          onError: (err) => say(`warning: ${err.message}`),
        });
      const summaryTick = summaries ? setInterval(() => hub.takeRawSummaries(), SUMMARY_PERIOD_MS) : undefined;
      stopTick = () => clearInterval(summaryTick);
      const batches = subscribeAgents(directory, {
        ...(summaries
          ? {
              onSummary: (_address: string, summary: import('../../core/summary.js').NodeSummary) =>
                hub.applySummary(summary),
              onRawFallback: (address: string, node: string) => {
                hub.summariseRaw(node);
                say(`agent ${address} (${node}) has no SubscribeSummaries (an older agent): following its raw stream`);
              },
            }
          : {}),
        signal,
        infoEveryMs: INFO_EVERY_MS,
        backoff: BACKOFF,
        onInfo: (address, info) => book.info(address, info),
        tls: security.tls,
        rejected: hub.rejected,
        onWarning: (message) => say(`warning: ${message}`),
        onStatus: (s) => {
          book.status(s);
          say(`agent ${s.address} (${s.node}) ${s.state}${s.reason ? ': ' + s.reason : ''}`);
        },
      });
      for await (const batch of catalogs ? catalogs.merge(batches) : batches) hub.apply(batch);
      say(`stopping: ${(signal.reason as Error)?.message ?? 'streams ended'}`);
      return 0;
    } finally {
      stopTick();
      await stopFiles?.();
      await closeHttp(server);
      if (readyFile) await rm(readyFile, { force: true });
    }
  },
};

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
