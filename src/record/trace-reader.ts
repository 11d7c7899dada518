// Reads a trace file back as event batches, tolerating a truncated end, damaged frames (skipped to the next intact one)
// and an interrupted recording, each reported through onWarning with its byte offset; what is not a trace, or a trace
// of a newer format, is refused with an InputError.
import { open } from 'node:fs/promises';
import { decodeBatch } from '../protocol/wire.js';
import { InputError } from '../core/errors.js';
import { openFile } from '../core/file-errors.js';
import type { StickyEvent } from '../core/event.js';
import { ByteSource } from './byte-source.js';
import { FORMAT_VERSION, MAGIC, PREAMBLE_BYTES, parseFrame } from './frame.js';
import { decodeEnd, decodeHeader, segmentPath, type TraceEnd, type TraceHeader } from './trace-header.js';

export interface TraceWarning {
  kind: 'truncated' | 'corrupt' | 'undecodable' | 'interrupted' | 'missing-segment';
  path: string;
  /** Byte offset in `path` where the problem starts. */
  offset: number;
  message: string;
}

export interface ReadTraceOptions {
  onWarning?: (w: TraceWarning) => void;
  /** Called with each segment's header, before its events. */
  onHeader?: (h: TraceHeader, path: string) => void;
  /** Go on into FILE.1, FILE.2, ... when the recording was rotated (default true). */
  followRotation?: boolean;
}

/** The events of a trace file (and of its rotated continuations), batch by batch. */
export async function* readTrace(path: string, options: ReadTraceOptions = {}): AsyncGenerator<StickyEvent[]> {
  const warn = options.onWarning ?? (() => {});
  let first: TraceHeader | null = null;
  for (let current: string | null = path; current !== null; ) {
    const seg: SegmentResult = { header: null, end: null };
    yield* readSegment(current, first === null, seg, options);
    if (seg.header && first === null) first = seg.header;
    current = null;
    if (seg.end?.continued && options.followRotation !== false && seg.header && first) {
      if (seg.header.recordingId !== first.recordingId) break;
      const base = first.segment === 0 ? path : path.slice(0, path.length - `.${first.segment}`.length);
      const next = segmentPath(base, seg.header.segment + 1);
      if (await exists(next)) current = next;
      else
        warn({
          kind: 'missing-segment',
          path: next,
          offset: 0,
          message: `trace ${path} continues in ${next}, which does not exist; read up to there`,
        });
    }
  }
}

interface SegmentResult {
  header: TraceHeader | null;
  end: TraceEnd | null;
}

async function* readSegment(
  path: string,
  withSnapshot: boolean,
  out: SegmentResult,
  options: ReadTraceOptions,
): AsyncGenerator<StickyEvent[]> {
  const warn = options.onWarning ?? (() => {});
  const fh = await openFile(path, 'r', 'open trace');
  try {
    const src = new ByteSource(fh);
    await src.fill(PREAMBLE_BYTES);
    checkPreamble(path, src.buf);
    let events = 0;
    let pos = PREAMBLE_BYTES;
    let truncated = false;
    for (;;) {
      await src.fill(pos + 1);
      if (pos >= src.end) break;
      src.discard(pos);
      const r = parseFrame(src.buf, pos - src.start, src.buf.length);
      if (r.kind === 'incomplete' && !src.eof) {
        await src.fill(src.end + 1);
        continue;
      }
      if (r.kind !== 'frame') {
        const next = await resync(src, pos + 1);
        if (next < 0 && r.kind === 'incomplete') {
          truncated = true;
          warn({
            kind: 'truncated',
            path,
            offset: pos,
            message: `trace ${path} is truncated: it ends at byte ${src.end} inside a frame that starts at byte ${pos}; the ${events} events before it are read`,
          });
          break;
        }
        const why = r.kind === 'bad' ? r.reason : 'frame length runs past the end of the file';
        const resumed =
          next < 0
            ? `no intact frame follows (${src.end - pos} bytes skipped)`
            : `resuming at byte ${next} (${next - pos} bytes skipped)`;
        warn({
          kind: 'corrupt',
          path,
          offset: pos,
          message: `trace ${path} has a damaged frame at byte ${pos} (${why}); ${resumed}`,
        });
        if (next < 0) break;
        pos = next;
        continue;
      }
      const at = pos;
      pos = src.start + r.end;
      if (r.type === 'batch') {
        let batch: StickyEvent[];
        try {
          batch = decodeBatch(r.payload);
        } catch (err) {
          warn({
            kind: 'undecodable',
            path,
            offset: at,
            message: `trace ${path}: the batch at byte ${at} is intact but cannot be decoded (${(err as Error).message}); skipped`,
          });
          continue;
        }
        events += batch.length;
        if (batch.length > 0) yield batch;
      } else if (r.type === 'header') {
        const header = parseJson(path, at, 'header', () => decodeHeader(r.payload), warn);
        if (header && !out.header) {
          out.header = header;
          options.onHeader?.(header, path);
          if (withSnapshot && header.catalogs.length > 0) yield header.catalogs;
        }
      } else {
        out.end = parseJson(path, at, 'end', () => decodeEnd(r.payload), warn) ?? out.end;
      }
    }
    if (!out.end && !truncated) {
      warn({
        kind: 'interrupted',
        path,
        offset: pos,
        message: `trace ${path} ends at byte ${pos} without an end frame (the recording was interrupted); the ${events} events in it are read`,
      });
    }
  } finally {
    await fh.close();
  }
}

/** The offset of the next intact frame at or after `from`, or -1. */
async function resync(src: ByteSource, from: number): Promise<number> {
  for (let q = from; ; ) {
    if (q >= src.end && !(await src.fill(q + 1))) return -1;
    src.discard(q);
    const r = parseFrame(src.buf, q - src.start, src.buf.length);
    if (r.kind === 'frame') return q;
    if (r.kind === 'incomplete' && !src.eof) await src.fill(src.end + 1);
    else q++;
  }
}

function checkPreamble(path: string, head: Buffer): void {
  const magic = head.subarray(0, MAGIC.length);
  if (!magic.equals(MAGIC.subarray(0, magic.length)) || magic.length === 0) {
    throw new InputError(
      `not a stickyscope trace: ${path} should start with the magic bytes ${JSON.stringify(MAGIC.toString('latin1'))}; found ${JSON.stringify(magic.toString('latin1'))}`,
    );
  }
  if (head.length < PREAMBLE_BYTES) {
    throw new InputError(
      `trace ${path} is truncated: it ends at byte ${head.length}, inside its ${PREAMBLE_BYTES}-byte preamble; it holds no events`,
    );
  }
  const version = head.readUInt16LE(MAGIC.length);
  if (version > FORMAT_VERSION) {
    throw new InputError(
      `trace format version ${version} is newer than this stickyscope reads (${FORMAT_VERSION}); upgrade stickyscope to read ${path}`,
    );
  }
  if (version === 0)
    throw new InputError(
      `not a stickyscope trace: ${path} has the magic bytes but format version 0, which was never written`,
    );
}

function parseJson<T>(
  path: string,
  at: number,
  what: string,
  parse: () => T,
  warn: (w: TraceWarning) => void,
): T | null {
  try {
    return parse();
  } catch (err) {
    warn({
      kind: 'undecodable',
      path,
      offset: at,
      message: `trace ${path}: the ${what} frame at byte ${at} is intact but unreadable (${(err as Error).message}); ignored`,
    });
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await (await open(path, 'r')).close();
    return true;
  } catch {
    return false;
  }
}
