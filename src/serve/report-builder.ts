// serve's reports, built on a worker thread (report-worker.ts) that keeps its own copy of
// the hub: the main thread, which answers /healthz, /readyz and /metrics, only forwards
// what its hub takes. At most `maxBuilds` requests are in flight (building or waiting for
// the worker); beyond that `tryBuild` says no at once, so memory is bounded by the cap,
// not by how many clients ask.
import { Worker } from 'node:worker_threads';
import type { NodeSummary } from '../core/summary.js';
import type { StickyEvent } from '../core/event.js';
import type { RejectedEvents } from '../protocol/validate.js';
import type { ReportFormat } from '../report/from-file.js';
import type { HubMirror, WindowChoice } from './hub.js';
import type { FromReportWorker, ReportWorkerInit, ToReportWorker } from './report-worker.js';

interface Waiting {
  resolve: (body: Uint8Array) => void;
  reject: (err: Error) => void;
}

export class ReportBuilder implements HubMirror {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private failed: Error | null = null;
  /** Requests taken by tryBuild and not yet answered. */
  inFlight = 0;

  constructor(
    init: ReportWorkerInit,
    private readonly rejected: RejectedEvents,
    readonly maxBuilds: number,
    /** Said once if the thread dies: its copy of the state is gone, so every later report is a 500 saying why. */
    onFailed: (err: Error) => void = () => {},
  ) {
    this.worker = new Worker(new URL('./report-worker.js', import.meta.url), { workerData: init });
    this.worker.on('message', (m: FromReportWorker) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if ('body' in m) w?.resolve(m.body);
      else w?.reject(new Error(`failed to build the report: ${m.error}`));
    });
    const fail = (err: Error) => {
      if (!this.failed) onFailed(err);
      this.failed ??= err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    this.worker.on('error', (err) => fail(new Error(`the report thread failed: ${err.message}`)));
    this.worker.on('exit', (code) =>
      fail(new Error(`the report thread exited (code ${code}); reports are not served until serve restarts`)),
    );
  }

  events(batch: readonly StickyEvent[]): void {
    this.post({ kind: 'events', batch });
  }

  summary(summary: NodeSummary): void {
    this.post({ kind: 'summary', summary });
  }

  /** The rendered report, or null at once when `maxBuilds` requests are already in flight. */
  tryBuild(window: WindowChoice, format: ReportFormat): Promise<Uint8Array> | null {
    if (this.inFlight >= this.maxBuilds) return null;
    this.inFlight++;
    return this.build(window, format).finally(() => this.inFlight--);
  }

  /** The rendered report, whatever is in flight (the periodic report files: one at a time). */
  build(window: WindowChoice, format: ReportFormat, nowMs = Date.now()): Promise<Uint8Array> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.post({ kind: 'build', id, window, format, nowMs, rejected: this.rejected.toJSON() });
    });
  }

  async close(): Promise<void> {
    this.failed ??= new Error('serve is stopping');
    await this.worker.terminate();
  }

  private post(m: ToReportWorker): void {
    if (!this.failed) this.worker.postMessage(m);
  }
}
