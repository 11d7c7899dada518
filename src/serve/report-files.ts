// `serve --report-every D --report-dir DIR`: the default window's report written every
// period as a timestamped file (whole or not at all), keeping the newest --report-keep.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
import type { ReportFormat } from '../report/from-file.js';

export interface ReportFilesOptions {
  dir: string;
  everyMs: number;
  keep: number;
  format: ReportFormat;
  /** The report now, rendered in `format`; null when there is nothing to report yet (the period is skipped). */
  build: (format: ReportFormat) => Promise<Uint8Array | null>;
  onWritten?: (path: string) => void;
  /** Said once per streak of failed writes (a full disk fails every period), not every period. */
  onError?: (err: Error) => void;
  /** Said once per streak of periods skipped because the previous write was still under way. */
  onBehind?: () => void;
  /** Where the text goes; the default writes it whole or not at all. */
  write?: (path: string, body: Uint8Array) => Promise<void>;
}

const PATTERN = /^stickyscope-report-\d{8}T\d{6}(?:\d{3})?Z\.(json|md|html)$/;

/** "stickyscope-report-20261123T121105123Z.json": names sort in time order. */
function reportFileName(now: Date, format: ReportFormat): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `stickyscope-report-${stamp}.${format}`;
}

/**
 * Starts the timer; the returned function stops it (and waits for the one write under way). A period whose tick finds
 * the previous write still going is skipped: queueing them grew without bound when a write took longer than the
 * period, and stopping then waited for the whole queue.
 */
export function startReportFiles(opts: ReportFilesOptions): () => Promise<void> {
  let busy: Promise<void> | null = null;
  let behind = false;
  let failing = false;
  const timer = setInterval(() => {
    if (busy) {
      if (!behind) opts.onBehind?.();
      behind = true;
      return;
    }
    behind = false;
    busy = writeOne(opts)
      .then(
        () => {
          failing = false;
        },
        (err: Error) => {
          if (!failing) opts.onError?.(err);
          failing = true;
        },
      )
      .finally(() => {
        busy = null;
      });
  }, opts.everyMs);
  return async () => {
    clearInterval(timer);
    await busy;
  };
}

async function writeOne(opts: ReportFilesOptions): Promise<void> {
  const body = await opts.build(opts.format);
  if (!body) return;
  const path = join(opts.dir, reportFileName(new Date(), opts.format));
  await (opts.write ?? ((p, b) => writeFileAtomic(p, b, 'write the periodic report')))(path, body);
  await rotate(opts.dir, opts.keep);
  opts.onWritten?.(path);
}

/** Removes all but the newest `keep` report files; other files in the directory are left alone. */
async function rotate(dir: string, keep: number): Promise<void> {
  const ours = (await readdir(dir)).filter((n) => PATTERN.test(n)).sort();
  for (const name of ours.slice(0, Math.max(0, ours.length - keep))) await rm(join(dir, name), { force: true });
}
