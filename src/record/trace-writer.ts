// Appends event batches to a trace file (see frame.ts for the layout), optionally
// rotating to FILE.1, FILE.2, ... once a segment reaches a size. Appends are queued, so
// callers may hand batches over from event callbacks without awaiting each one. A write
// error (a full disk) closes the file as it stands, readable up to the last whole frame.
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { encodeBatch } from '../protocol/wire.js';
import { fileError, openFile } from '../core/file-errors.js';
import type { CatalogEvent, StickyEvent } from '../core/event.js';
import { encodeFrame, encodePreamble, MAX_PAYLOAD_BYTES } from './frame.js';
import { encodeJson, segmentPath, toolVersion, type TraceEnd, type TraceHeader } from './trace-header.js';

export interface TraceWriterOptions {
  /** Start a new segment once the current one holds this many bytes. */
  rotateBytes?: number;
  nodes?: string[];
  agents?: string[];
  /** Catalogs already in effect when the recording starts (later ones arrive as events). */
  catalogs?: CatalogEvent[];
}

export interface TraceWriterStats {
  events: number;
  lostEvents: number;
  /** Bytes written over all segments. */
  bytes: number;
  /** Segment files written so far, in order. */
  files: string[];
}

export class TraceWriter {
  private fh!: FileHandle;
  private segment = -1;
  private segmentBytes = 0;
  private segmentEvents = 0;
  private segmentLost = 0;
  private readonly recordingId = randomBytes(8).toString('hex');
  private readonly nodes: Set<string>;
  private readonly catalogs = new Map<string, CatalogEvent>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** The first write error; once set, nothing more is written and the file is closed. */
  private failure: Error | null = null;
  private lastTs = 0;
  readonly stats: TraceWriterStats = { events: 0, lostEvents: 0, bytes: 0, files: [] };

  private constructor(
    readonly path: string,
    private readonly options: TraceWriterOptions,
  ) {
    this.nodes = new Set(options.nodes ?? []);
    for (const c of options.catalogs ?? []) this.catalogs.set(c.node, c);
  }

  /** Creates (or truncates) `path` and writes its header. */
  static async open(path: string, options: TraceWriterOptions = {}): Promise<TraceWriter> {
    if (options.rotateBytes !== undefined && !(options.rotateBytes > 0)) {
      throw new Error(`failed to open trace writer: rotateBytes must be positive; got ${options.rotateBytes}`);
    }
    const w = new TraceWriter(path, options);
    await w.startSegment(Date.now() * 1000);
    return w;
  }

  /** Queues one batch; resolves once it is written, rejects with the write error if it could not be. */
  append(events: readonly StickyEvent[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error(`failed to append to ${this.path}: the trace writer is closed`));
    if (events.length === 0) return this.queue;
    this.queue = this.queue.then(() => this.write(events));
    return this.queue;
  }

  /**
   * Writes the end frame after everything queued and closes the file. Idempotent.
   * After a write error the file is already closed, and this rejects with that error.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.queue = this.queue.then(() => this.endSegment(false));
    }
    return this.queue;
  }

  private async write(events: readonly StickyEvent[]): Promise<void> {
    for (const e of events) {
      this.nodes.add(e.node);
      if (e.type === 'catalog') this.catalogs.set(e.node, e);
      else if (e.type === 'lost') {
        this.segmentLost += e.count;
        this.stats.lostEvents += e.count;
      }
      if (e.ts > this.lastTs) this.lastTs = e.ts;
    }
    this.stats.events += events.length;
    for (const payload of encodeWithin(events, MAX_PAYLOAD_BYTES)) await this.put(encodeFrame('batch', payload));
    this.segmentEvents += events.length;
    if (this.options.rotateBytes !== undefined && this.segmentBytes >= this.options.rotateBytes) {
      await this.endSegment(true);
      await this.startSegment(this.lastTs);
    }
  }

  private async startSegment(startTime: number): Promise<void> {
    this.segment++;
    const path = segmentPath(this.path, this.segment);
    try {
      this.fh = await openFile(path, 'w', 'write trace');
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
    this.stats.files.push(path);
    this.segmentBytes = this.segmentEvents = this.segmentLost = 0;
    const header: TraceHeader = {
      tool: 'stickyscope',
      toolVersion,
      recordingId: this.recordingId,
      segment: this.segment,
      startTime,
      nodes: [...this.nodes],
      agents: this.options.agents ?? [],
      catalogs: [...this.catalogs.values()],
    };
    await this.put(encodePreamble());
    await this.put(encodeFrame('header', encodeJson(header)));
  }

  private async endSegment(continued: boolean): Promise<void> {
    const end: TraceEnd = {
      endTime: Math.max(this.lastTs, Date.now() * 1000),
      events: this.segmentEvents,
      nodes: [...this.nodes],
      lostEvents: this.segmentLost,
      continued,
    };
    await this.put(encodeFrame('end', encodeJson(end)));
    try {
      await this.fh.sync();
      await this.fh.close();
    } catch (err) {
      throw await this.fail(err);
    }
  }

  private async put(bytes: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    try {
      // write(2) may take part of the buffer (a disk filling up does that before ENOSPC).
      for (let done = 0; done < bytes.length; ) {
        const { bytesWritten } = await this.fh.write(bytes, done, bytes.length - done);
        done += bytesWritten;
        this.segmentBytes += bytesWritten;
        this.stats.bytes += bytesWritten;
      }
    } catch (err) {
      throw await this.fail(err);
    }
  }

  /** Records the first write error and closes the file: what reached it stays readable (the reader stops at a cut frame and says so). */
  private async fail(err: unknown): Promise<Error> {
    this.failure ??= fileError(err, 'write trace', segmentPath(this.path, this.segment), 'write');
    await this.fh.close().catch(() => {});
    return this.failure;
  }
}

/** Encoded batches, split in halves until each fits in one frame. */
function encodeWithin(events: readonly StickyEvent[], max: number): Uint8Array[] {
  const bytes = encodeBatch(events);
  if (bytes.length <= max || events.length < 2) return [bytes];
  const mid = events.length >>> 1;
  return [...encodeWithin(events.slice(0, mid), max), ...encodeWithin(events.slice(mid), max)];
}
