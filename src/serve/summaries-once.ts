// `report --summaries`: listens to the agents' summaries for a duration (agents without
// SubscribeSummaries are followed raw and summarised here), then renders one report.
import { longTimeout } from '../core/long-timer.js';
import { subscribeAgents, type LinkOptions } from '../protocol/client.js';
import type { AgentStatus } from '../protocol/agent-connection.js';
import type { CatalogFeed } from '../k8s/catalog-feed.js';
import type { ReportFormat } from '../report/from-file.js';
import { ServeHub } from './hub.js';

export interface SummariesReportOptions extends LinkOptions {
  format: ReportFormat;
  /** Report only the last this many seconds; everything listened to when absent. */
  windowSeconds?: number;
  durationMs: number;
  signal?: AbortSignal;
  onStatus?: (status: AgentStatus) => void;
  onWarning?: (message: string) => void;
  catalogs?: CatalogFeed;
  /** The command line that asked for the report, stated at its top. */
  command?: string;
  /** How often raw-streaming agents are summarised here (default 2000 ms, the agents' default period). */
  periodMs?: number;
}

export async function reportFromSummaries(addresses: string[], opts: SummariesReportOptions): Promise<string> {
  const window = opts.windowSeconds;
  const hub = new ServeHub({ windows: [window ?? 3600], summaries: true });
  const stop = new AbortController();
  const cancelTimer = longTimeout(() => stop.abort(), opts.durationMs);
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();
  const tick = setInterval(() => hub.takeRawSummaries(), opts.periodMs ?? 2000);
  try {
    const batches = subscribeAgents(addresses, {
      signal: stop.signal,
      onStatus: opts.onStatus,
      onWarning: opts.onWarning,
      rejected: hub.rejected,
      tls: opts.tls,
      nodes: opts.nodes,
      onSummary: (_address, summary) => hub.applySummary(summary),
      onRawFallback: (address, node) => {
        hub.summariseRaw(node);
        opts.onWarning?.(
          `agent ${node} (${address}) has no SubscribeSummaries (an older agent): following its raw stream`,
        );
      },
    });
    for await (const batch of opts.catalogs ? opts.catalogs.merge(batches) : batches) hub.apply(batch);
    hub.takeRawSummaries();
    return hub.render(hub.report(window ?? 'all'), opts.format, opts.command);
  } finally {
    clearInterval(tick);
    cancelTimer();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
