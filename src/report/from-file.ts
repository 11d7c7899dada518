// Reports from a trace file and from live agents, through one function fed by either
// source, so the same events and window give the same report whichever way they came.
import { scopeCatalogs } from '../core/service-scope.js';
import type { StickyEvent } from '../core/event.js';
import { printableJson } from '../core/text.js';
import { longTimeout } from '../core/long-timer.js';
import { createState, applyEvents } from '../aggregator/state.js';
import type { LinkOptions } from '../protocol/client.js';
import type { AgentStatus } from '../protocol/agent-connection.js';
import type { CatalogFeed } from '../k8s/catalog-feed.js';
import type { TraceWarning } from '../record/trace-reader.js';
import type { TraceEnd, TraceHeader } from '../record/trace-header.js';
import type { Span } from '../aggregator/span.js';
import { mergeTraces } from '../record/merge-traces.js';
import { narrowEvents, narrows, type Narrowing } from '../record/narrow-events.js';
import { RejectedEvents } from '../protocol/validate.js';
import { buildReport } from './build-report.js';
import { findingsOf } from './findings.js';
import { renderMarkdown } from './render-markdown.js';
import { renderHtml } from './html.js';
import { SelectionTimeline } from './html-timeline.js';
import type { Report } from './types.js';

export type ReportFormat = 'json' | 'md' | 'html';

export interface ReportOptions {
  format: ReportFormat;
  /** Report the last N seconds (ending at the latest event); without it, everything read. */
  windowSeconds?: number;
  /** The command line that asked for the report, stated at its top. */
  command?: string;
}

/**
 * Aggregates batches (time-ordered) and renders the report; `rejected` counts what their source dropped;
 * `recording` says, once the batches are read, when the recording began and ended.
 */
export async function reportFromEvents(
  batches: AsyncIterable<StickyEvent[]>,
  opts: ReportOptions,
  rejected = new RejectedEvents(),
  recording: () => Span | null = () => null,
): Promise<string> {
  // A report shows no live event log: the notable events are not built.
  const state = createState({ windowSeconds: opts.windowSeconds, notable: false });
  const timeline = opts.format === 'html' ? new SelectionTimeline() : null;
  for await (const batch of batches) {
    applyEvents(state, batch);
    timeline?.add(batch);
  }
  // Nothing more will say what the rules were: what still waits is judged by the latest rules known.
  state.settlePending();
  return renderReport(
    buildReport(state, {
      scope: opts.windowSeconds === undefined ? 'cumulative' : 'window',
      rejected,
      recording: recording(),
    }),
    { format: opts.format, timeline, command: opts.command },
  );
}

/**
 * A built report as text, with its findings and, where given, the command line that made it; html needs the timeline
 * of the same events.
 */
export function renderReport(
  built: Report,
  opts: { format: ReportFormat; timeline: SelectionTimeline | null; command?: string },
): string {
  const report: Report = { ...built, ...(opts.command ? { command: opts.command } : {}), findings: findingsOf(built) };
  if (opts.format === 'json') return printableJson(JSON.stringify(report, null, 2)) + '\n';
  if (opts.format === 'md') return renderMarkdown(report);
  return renderHtml(report, opts.timeline ?? new SelectionTimeline());
}

/** The report of one trace file, or of several merged in time order (e.g. one recorded on each node). */
export async function reportFromFile(
  paths: string | readonly string[],
  opts: ReportOptions & {
    onWarning?: (w: TraceWarning) => void;
    /** Only a time range or some Services of the recording, and where to say that the range held nothing. */
    narrowing?: Narrowing & { onWarning: (message: string) => void };
  },
): Promise<string> {
  const rejected = new RejectedEvents();
  const list = typeof paths === 'string' ? [paths] : paths;
  // The recording: from the earliest header to the latest end frame (an interrupted one ends at its last event).
  let start = Infinity;
  let end = -Infinity;
  const onHeader = (h: TraceHeader) => {
    start = Math.min(start, h.startTime);
  };
  const onEnd = (e: TraceEnd) => {
    end = Math.max(end, e.endTime);
  };
  const onEvents = async function* (batches: AsyncIterable<StickyEvent[]>) {
    for await (const batch of batches) {
      // Merged in time order: a batch's last event is its latest.
      if (batch.length > 0) end = Math.max(end, batch[batch.length - 1]!.ts);
      yield batch;
    }
  };
  const merged = onEvents(mergeTraces(list, { onWarning: opts.onWarning, onHeader, onEnd, rejected }));
  const narrowing = opts.narrowing;
  const events = narrowing && narrows(narrowing) ? narrowEvents(merged, narrowing, narrowing.onWarning) : merged;
  return reportFromEvents(events, opts, rejected, () => (start <= end ? { start, end } : null));
}

export interface AgentReportOptions extends ReportOptions, LinkOptions {
  /** How long to listen before reporting. */
  durationMs: number;
  /** Ends the listening early (Ctrl-C); the report covers what arrived. */
  signal?: AbortSignal;
  onStatus?: (status: AgentStatus) => void;
  /** Told about the first event of each agent stream that fails validation. */
  onWarning?: (message: string) => void;
  /** With --k8s: the API's catalogs, merged into the agents' events. */
  catalogs?: CatalogFeed;
  /** Only these Services' flows (--service): the agents filter at the source. */
  services?: string[];
}

export async function reportFromAgents(addresses: string[], opts: AgentReportOptions): Promise<string> {
  const { subscribeAgents } = await import('../protocol/client.js');
  const stop = new AbortController();
  const cancelTimer = longTimeout(() => stop.abort(), opts.durationMs);
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();
  try {
    const rejected = new RejectedEvents();
    const batches = subscribeAgents(addresses, {
      signal: stop.signal,
      onStatus: opts.onStatus,
      onWarning: opts.onWarning,
      rejected,
      tls: opts.tls,
      nodes: opts.nodes,
      filter: opts.services ? { services: opts.services } : undefined,
    });
    const merged = opts.catalogs ? opts.catalogs.merge(batches) : batches;
    const scoped = opts.services ? scopeCatalogs(merged, opts.services, opts.onWarning, addresses.length) : merged;
    const start = Date.now() * 1000;
    return await reportFromEvents(scoped, opts, rejected, () => ({ start, end: Date.now() * 1000 }));
  } finally {
    cancelTimer();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
