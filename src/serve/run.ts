// `stickyscope serve` as a list of stages (src/core/stages.ts): the agent book, the HTTP
// server, the ready file, the report files, the summary tick and the hub, which takes each
// batch the subscription to the agents delivers. It runs until the signal fires or the
// streams end, then every stage is stopped in one loop, last first.
import { EventEmitter } from 'node:events';
import { EnvironmentError } from '../core/errors.js';
import type { StickyEvent } from '../core/event.js';
import { closeHttp, listenHttp } from '../core/http-listen.js';
import { readyFileStage } from '../core/ready-file.js';
import { startStages, type Stage } from '../core/stages.js';
import type { CatalogFeed } from '../k8s/catalog-feed.js';
import { subscribeAgents, type AgentDirectory } from '../protocol/client.js';
import type { ClientTls } from '../protocol/tls.js';
import type { ReportFormat } from '../report/from-file.js';
import { AgentBook } from './agent-book.js';
import { isLoopback } from '../protocol/tls.js';
import { answerBadRequests, createServeHttp, serveHandler, type ServeHttpOptions } from './http.js';
import { createReportsServer, type ReportTls } from './report-tls.js';
import { ServeHub } from './hub.js';
import { createServeMetrics } from './metrics.js';
import { ReportBuilder } from './report-builder.js';
import { RejectedEvents } from '../protocol/validate.js';
import { startReportFiles } from './report-files.js';

const INFO_EVERY_MS = 5000;
/** How often agents followed raw in --summaries mode are summarised (the agents' default period). */
const SUMMARY_PERIOD_MS = 2000;
/** A static agent that comes up late is found within ~2 s, not the 5 s of one-shot commands. */
const BACKOFF = { initialMs: 200, maxMs: 2000 };

export interface ServeOptions {
  /** Where to serve HTTP, "host:port". */
  listen: string;
  /** Window lengths kept, in seconds; the first is the default and the metrics' gauges'. */
  windows: number[];
  /** Take the agents' summaries instead of every event. */
  summaries: boolean;
  maxServices: number;
  /** Most report requests in flight (building or waiting); more are answered 503. */
  maxReportBuilds: number;
  /** Write the default window's report every `everyMs` into `dir`. */
  reports?: { dir: string; everyMs: number; keep: number; format: ReportFormat };
  readyFile?: string;
  /** The agents to follow, admitted already (agent-admission.ts). */
  agents: AgentDirectory;
  tls?: ClientTls;
  /** The reports' mutual-TLS listener (beyond loopback, the only way to them). */
  reportTls?: ReportTls;
  /** With --k8s, the API's catalogs merged into the stream. */
  catalogs?: CatalogFeed;
  /** One line for the operator (stderr). */
  say: (line: string) => void;
}

export async function runServe(opts: ServeOptions, signal: AbortSignal): Promise<void> {
  const { agents, say } = opts;
  const { windows, summaries, maxServices } = opts;
  const startedAt = Date.now() * 1000;
  // The hub's `rejected` is the subscription's tally, shared: the builder reads it per request.
  const rejected = new RejectedEvents();
  const reports = new ReportBuilder(
    { windows, summaries, startedAt, maxServices },
    rejected,
    opts.maxReportBuilds,
    (err) => say(`error: ${err.message}`),
  );
  const hub = new ServeHub({ windows, summaries, startedAt, rejected, mirror: reports, primaryOnly: true });
  const book = new AgentBook();
  const metrics = createServeMetrics(hub, book, maxServices);
  const http = { hub, book, metrics, reports, onError: (err: Error) => say(`error: ${err.message}`) };
  let boundTls = '';
  const server = createServeHttp({
    ...http,
    reportsHere: isLoopback(opts.listen),
    get reportsElsewhere() {
      return opts.reportTls ? `they are served over mutual TLS on https://${boundTls}` : undefined;
    },
  });
  const stream = new EventEmitter();
  let bound = '';
  const stages: Stage[] = [
    { name: 'the report thread', start() {}, stop: () => reports.close() },
    // Known before the first request, so /readyz waits for them.
    bookStage(book, agents, say),
    {
      name: 'the HTTP server',
      async start() {
        bound = await listenHttp(server, opts.listen).catch((err: Error) => {
          throw new EnvironmentError(err.message);
        });
      },
      stop: () => closeHttp(server),
    },
    ...(opts.reportTls ? [reportsTlsStage(opts.reportTls, http, say, (a) => (boundTls = a))] : []),
    ...(opts.readyFile ? [readyFileStage(opts.readyFile, () => bound)] : []),
    {
      name: 'the announcement',
      start: () =>
        say(
          `serving http://${bound}${boundTls ? ` (reports on https://${boundTls}, mutual TLS)` : ''} for ${agents.addresses().join(', ') || 'agents yet to come'}; SIGINT/SIGTERM stops`,
        ),
    },
    ...reportFilesStage(hub, reports, opts),
    ...(opts.summaries ? [tickStage('the summary tick', SUMMARY_PERIOD_MS, () => hub.takeRawSummaries())] : []),
    { name: 'the aggregator', start() {}, onEvents: (batch) => hub.apply(batch) },
  ];
  const running = await startStages(stages, { stream, signal });
  try {
    for await (const batch of follow(hub, book, opts, signal)) stream.emit('events', batch);
    say(`stopping: ${(signal.reason as Error)?.message ?? 'streams ended'}`);
  } finally {
    await running.stop();
  }
}

/** The merged stream of the agents (and the API's catalogs), as batches. */
function follow(hub: ServeHub, book: AgentBook, opts: ServeOptions, signal: AbortSignal): AsyncIterable<StickyEvent[]> {
  const { say } = opts;
  const batches = subscribeAgents(opts.agents, {
    ...(opts.summaries
      ? {
          onSummary: (_address, summary) => hub.applySummary(summary),
          onRawFallback: (address, node) => {
            hub.summariseRaw(node);
            say(`agent ${address} (${node}) has no SubscribeSummaries (an older agent): following its raw stream`);
          },
        }
      : {}),
    signal,
    infoEveryMs: INFO_EVERY_MS,
    backoff: BACKOFF,
    onInfo: (address, info) => book.info(address, info),
    tls: opts.tls,
    rejected: hub.rejected,
    onWarning: (message) => say(`warning: ${message}`),
    onStatus: (s) => {
      book.status(s);
      say(`agent ${s.address} (${s.node}) ${s.state}${s.reason ? ': ' + s.reason : ''}`);
    },
  });
  return opts.catalogs ? opts.catalogs.merge(batches) : batches;
}

function reportFilesStage(hub: ServeHub, builder: ReportBuilder, opts: ServeOptions): Stage[] {
  const reports = opts.reports;
  if (!reports) return [];
  let stopFiles: () => Promise<void>;
  return [
    {
      name: `the reports in ${reports.dir}`,
      start() {
        stopFiles = startReportFiles({
          ...reports,
          build: async (format) => (hub.empty ? null : builder.build(opts.windows[0]!, format)),
          onWritten: (path) => opts.say(`wrote ${path}`),
          onError: (err) => opts.say(`warning: ${err.message} (said once until a write succeeds)`),
          onBehind: () =>
            opts.say(
              `warning: a report write takes longer than --report-every (${reports.everyMs} ms); skipping periods until it catches up`,
            ),
        });
      },
      stop: () => stopFiles(),
    },
  ];
}

/** The HTTPS listener of the reports (report-tls.ts), answering as the plain one does. */
function reportsTlsStage(
  tls: ReportTls,
  http: Omit<ServeHttpOptions, 'reportsHere'>,
  say: (line: string) => void,
  onBound: (address: string) => void,
): Stage {
  const { server, stop } = createReportsServer(tls, serveHandler({ ...http, reportsHere: true }), (m) =>
    say(`warning: ${m}`),
  );
  answerBadRequests(server);
  return {
    name: 'the reports over TLS',
    async start() {
      onBound(
        await listenHttp(server, tls.listen).catch((err: Error) => {
          throw new EnvironmentError(err.message);
        }),
      );
    },
    async stop() {
      stop();
      await closeHttp(server);
    },
  };
}

function tickStage(name: string, everyMs: number, tick: () => void): Stage {
  let timer: NodeJS.Timeout;
  return {
    name,
    start() {
      timer = setInterval(tick, everyMs);
    },
    stop: () => clearInterval(timer),
  };
}

/** What serve knows of each agent (up, Info), following the directory as agents come and go. */
function bookStage(book: AgentBook, agents: AgentDirectory, say: (line: string) => void): Stage {
  let unsubscribe = () => {};
  return {
    name: 'the agent book',
    start() {
      book.follow(agents.addresses());
      unsubscribe = agents.onChange((now) => {
        book.follow(now);
        say(`following ${now.length} agent(s): ${now.join(', ') || 'none'}`);
      });
    },
    stop: () => unsubscribe(),
  };
}
