// The thread that builds `serve`'s reports: a copy of serve's hub, fed every batch and
// summary the main hub takes (in order, so a request sees every event received before it),
// building and rendering one report at a time. A report of thousands of Services takes
// seconds; here that never delays /healthz, /readyz or /metrics, which the main thread answers.
import { parentPort, workerData } from 'node:worker_threads';
import type { StickyEvent } from '../core/event.js';
import type { NodeSummary } from '../core/summary.js';
import type { RejectReason } from '../protocol/validate.js';
import type { ReportFormat } from '../report/from-file.js';
import { ServeHub, type WindowChoice } from './hub.js';

/** What the worker is started with (workerData). */
export interface ReportWorkerInit {
  windows: number[];
  summaries: boolean;
  startedAt: number;
  /** The --metrics-max-services cap, said in reports. */
  maxServices: number;
}

export interface ReportJob {
  id: number;
  window: WindowChoice;
  format: ReportFormat;
  nowMs: number;
  /** The main thread's tally of events the subscription refused, as of the request. */
  rejected: { total: number; reasons: Record<RejectReason, number> };
}

export type ToReportWorker =
  | { kind: 'events'; batch: readonly StickyEvent[] }
  | { kind: 'summary'; summary: NodeSummary }
  | ({ kind: 'build' } & ReportJob);

export type FromReportWorker = { id: number; body: Uint8Array } | { id: number; error: string };

const init = workerData as ReportWorkerInit;
const hub = new ServeHub({ windows: init.windows, summaries: init.summaries, startedAt: init.startedAt });
const port = parentPort!;

port.on('message', (m: ToReportWorker) => {
  if (m.kind === 'events') hub.apply(m.batch);
  else if (m.kind === 'summary') hub.applySummary(m.summary);
  else port.postMessage(...answer(m));
});

function answer(job: ReportJob): [FromReportWorker, ArrayBuffer[]] {
  try {
    hub.rejected.total = job.rejected.total;
    Object.assign(hub.rejected.reasons, job.rejected.reasons);
    const report = hub.report(job.window, job.nowMs);
    const omitted = Math.max(0, hub.primary.services.list.length - init.maxServices);
    report.metrics = { maxServices: init.maxServices, servicesOmitted: omitted };
    // Bytes handed over, not copied: an HTML report of 5,000 Services is tens of megabytes.
    const body = new TextEncoder().encode(hub.render(report, job.format));
    return [{ id: job.id, body }, [body.buffer as ArrayBuffer]];
  } catch (err) {
    return [{ id: job.id, error: (err as Error)?.message ?? String(err) }, []];
  }
}
