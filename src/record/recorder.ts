// `record`: subscribes to agents (merged in time order by the aggregator's client) and
// writes what arrives to a trace file until the duration ends or the signal fires, then
// closes the file cleanly so its end frame says the recording finished.
import { scopeCatalogs } from '../core/service-scope.js';
import { subscribeAgents, type LinkOptions } from '../protocol/client.js';
import type { AgentStatus } from '../protocol/agent-connection.js';
import type { CatalogFeed } from '../k8s/catalog-feed.js';
import { longTimeout } from '../core/long-timer.js';
import { TraceWriter, type TraceWriterStats } from './trace-writer.js';

export interface RecordOptions extends LinkOptions {
  /** Stop after this long; without it, only `signal` stops the recording. */
  durationMs?: number;
  rotateBytes?: number;
  signal?: AbortSignal;
  /** Called about once a second, and once at the end. */
  onProgress?: (stats: TraceWriterStats) => void;
  onStatus?: (status: AgentStatus) => void;
  /** Told about the first event of each agent stream that fails validation (such events are not recorded). */
  onWarning?: (message: string) => void;
  /** With --k8s: the API's catalogs, written among the agents' events (a report from the file then has them). */
  catalogs?: CatalogFeed;
  /** Only these Services' flows (--service): the agents filter at the source. */
  services?: string[];
}

export async function recordAgents(
  addresses: string[],
  path: string,
  opts: RecordOptions = {},
): Promise<TraceWriterStats> {
  const writer = await TraceWriter.open(path, { agents: addresses, rotateBytes: opts.rotateBytes });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();
  const cancelTimer = opts.durationMs === undefined ? null : longTimeout(() => stop.abort(), opts.durationMs);
  const progress = opts.onProgress ? setInterval(() => opts.onProgress!(writer.stats), 1000) : null;
  try {
    const batches = subscribeAgents(addresses, {
      signal: stop.signal,
      onStatus: opts.onStatus,
      onWarning: opts.onWarning,
      tls: opts.tls,
      nodes: opts.nodes,
      filter: opts.services ? { services: opts.services } : undefined,
    });
    const merged = opts.catalogs ? opts.catalogs.merge(batches) : batches;
    for await (const batch of opts.services
      ? scopeCatalogs(merged, opts.services, opts.onWarning, addresses.length)
      : merged) {
      await writer.append(batch);
    }
  } finally {
    cancelTimer?.();
    if (progress) clearInterval(progress);
    opts.signal?.removeEventListener('abort', onAbort);
    await writer.close();
  }
  opts.onProgress?.(writer.stats);
  return writer.stats;
}
