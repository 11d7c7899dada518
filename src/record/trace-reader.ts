// Reads a trace file back as event batches, tolerating a truncated end, damaged frames (skipped to the next intact one),
// an interrupted recording, invalid events (dropped, counted) and a continuation that is not the next segment (reading
// stops), each reported through onWarning with its byte offset; what is not a trace, or is newer, is an InputError.
import { type FileHandle, open } from 'node:fs/promises';
import { decodeBatch } from '../protocol/wire.js';
import { admitEvents, eventProblem, RejectedEvents, type Rejection } from '../protocol/validate.js';
import { InputError } from '../core/errors.js';
import { openFile } from '../core/file-errors.js';
import type { CatalogEvent, StickyEvent } from '../core/event.js';
import { ByteSource } from './byte-source.js';
import { FORMAT_VERSION, MAGIC, PREAMBLE_BYTES, parseFrame, type FrameParse } from './frame.js';
import { findNextFrame } from './resync.js';
import { decodeEnd, decodeHeader, segmentPath, type TraceEnd, type TraceHeader } from './trace-header.js';

export interface TraceWarning {
  kind: 'truncated' | 'corrupt' | 'undecodable' | 'interrupted' | 'missing-segment' | 'segment-order' | 'rejected';
  path: string;
  /** Byte offset in `path` where the problem starts. */
  offset: number;
  message: string;
}

export interface ReadTraceOptions {
  onWarning?: (w: TraceWarning) => void;
  /** Called with each segment's header, before its events. */
  onHeader?: (h: TraceHeader, path: string) => void;
  /** Called with each segment's end frame, where it has one. */
  onEnd?: (e: TraceEnd, path: string) => void;
  /** Go on into FILE.1, FILE.2, ... when the recording was rotated (default true). */
  followRotation?: boolean;
  /** Counts the events dropped because they fail validate.ts's checks. */
  rejected?: RejectedEvents;
}

/** The events of a trace file (and of its rotated continuations), batch by batch. */
export async function* readTrace(path: string, options: ReadTraceOptions = {}): AsyncGenerator<StickyEvent[]> {
  const warn = options.onWarning ?? (() => {});
  const rejected = options.rejected ?? new RejectedEvents();
  let base = path;
  let expect: SegmentExpectation | null = null;
  for (let current: string | null = path; current !== null; ) {
    const seg: SegmentResult = { header: null, end: null, refused: false };
    yield* readSegment(current, expect, seg, options, rejected);
    const header = seg.header;
    if (seg.refused || !header || !seg.end?.continued || options.followRotation === false) break;
    if (expect === null) {
      // FILE.k read first: its continuations are FILE.k+1, ..., named after FILE.
      const suffix = `.${header.segment}`;
      if (header.segment > 0 && !path.endsWith(suffix)) {
        warn({
          kind: 'missing-segment',
          path,
          offset: 0,
          message: `trace ${path} says it is segment ${header.segment} of a rotated recording, but its name does not end in ${suffix}, so the segments after it cannot be found; read up to there`,
        });
        break;
      }
      base = header.segment === 0 ? path : path.slice(0, path.length - suffix.length);
    }
    const next = segmentPath(base, header.segment + 1);
    if (!(await exists(next))) {
      warn({
        kind: 'missing-segment',
        path: next,
        offset: 0,
        message: `trace ${path} continues in ${next}, which does not exist; read up to there`,
      });
      break;
    }
    expect = { segment: header.segment + 1, recordingId: header.recordingId, previous: current };
    current = next;
  }
}

/** What the header of a continuation must say: the next segment number of the same recording. */
interface SegmentExpectation {
  segment: number;
  recordingId: string;
  /** The segment read before, for messages. */
  previous: string;
}

type WarnFn = (w: TraceWarning) => void;

interface SegmentResult {
  header: TraceHeader | null;
  end: TraceEnd | null;
  /** The header says this is not the continuation expected; nothing of it was read. */
  refused: boolean;
}

/** What reading one segment's frames needs. */
interface SegmentRead {
  path: string;
  expect: SegmentExpectation | null;
  out: SegmentResult;
  options: ReadTraceOptions;
  rejected: RejectedEvents;
  noteRejection: (at: number, what: string, r: Rejection) => void;
  warn: WarnFn;
}

async function* readSegment(
  path: string,
  expect: SegmentExpectation | null,
  out: SegmentResult,
  options: ReadTraceOptions,
  rejected: RejectedEvents,
): AsyncGenerator<StickyEvent[]> {
  const warn = options.onWarning ?? (() => {});
  const fh = await openFile(path, 'r', 'open trace');
  const rejectedBefore = rejected.total;
  const seg: SegmentRead = {
    path,
    expect,
    out,
    options,
    rejected,
    noteRejection: firstRejectionNote(path, warn),
    warn,
  };
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
        const past = await pastDamage(seg, fh, src, pos, r, events);
        pos = past.pos;
        truncated = past.truncated;
        if (past.stop) break;
        continue;
      }
      const at = pos;
      pos = src.start + r.end;
      const got = frameEvents(seg, at, r);
      if (got === 'refused') {
        out.refused = true;
        return;
      }
      if (r.type === 'batch') events += got.length;
      if (got.length > 0) yield got;
    }
    warnAtEnd(path, pos, rejected.total - rejectedBefore, out.end === null && !truncated, events, warn);
  } finally {
    await fh.close();
  }
}

/**
 * Where reading goes on after the damaged or cut frame at `pos` (said): the next intact frame, or `stop` when none
 * follows (`truncated` when the file ends inside that frame).
 */
async function pastDamage(
  seg: SegmentRead,
  fh: FileHandle,
  src: ByteSource,
  pos: number,
  r: Exclude<FrameParse, { kind: 'frame' }>,
  events: number,
): Promise<{ pos: number; stop: boolean; truncated: boolean }> {
  const { path, warn } = seg;
  const next = await findNextFrame((b, at) => src.readAt(b, at), pos + 1);
  if (next < 0 && r.kind === 'incomplete') {
    warn({
      kind: 'truncated',
      path,
      offset: pos,
      message: `trace ${path} is truncated: it ends at byte ${src.end} inside a frame that starts at byte ${pos}; the ${events} events before it are read`,
    });
    return { pos, stop: true, truncated: true };
  }
  const size = (await fh.stat()).size;
  warnDamaged(path, pos, r, next, size, warn);
  if (next < 0) return { pos: size, stop: true, truncated: false };
  src.seek(next);
  return { pos: next, stop: false, truncated: false };
}

/**
 * The events an intact frame at `at` gives: a batch's admitted events, or the first header's catalogs; a header or end
 * is kept in `seg.out`. 'refused': the header is not the continuation expected.
 */
function frameEvents(
  seg: SegmentRead,
  at: number,
  r: Extract<FrameParse, { kind: 'frame' }>,
): StickyEvent[] | 'refused' {
  const { path, out, options, warn } = seg;
  if (r.type === 'batch') {
    const batch = decodeFrameBatch(path, at, r.payload, warn);
    if (!batch) return [];
    return admitEvents(batch, seg.rejected, (p, i) => seg.noteRejection(at, `event ${i} of the batch`, p));
  }
  if (r.type === 'header') {
    if (out.header) return [];
    const header = segmentHeader(path, at, r.payload, seg.expect, seg.rejected, seg.noteRejection, warn);
    if (header === 'refused' || !header) return header ?? [];
    out.header = header;
    options.onHeader?.(header, path);
    return seg.expect === null ? header.catalogs : [];
  }
  const end = parseJson(path, at, 'end', () => decodeEnd(r.payload), warn);
  if (end) {
    out.end = end;
    options.onEnd?.(end, path);
  }
  return [];
}

/** Says the first rejected event of a segment (the others are counted in the report). */
function firstRejectionNote(path: string, warn: WarnFn): (at: number, what: string, r: Rejection) => void {
  let first = true;
  return (at, what, r) => {
    if (!first) return;
    first = false;
    warn({
      kind: 'rejected',
      path,
      offset: at,
      message: `trace ${path}: ${what} at byte ${at} is rejected: ${r.detail}; dropped (further rejected events are counted in the report)`,
    });
  };
}

/** An intact batch frame's events, or null (said) when they cannot be decoded. */
function decodeFrameBatch(path: string, at: number, payload: Uint8Array, warn: WarnFn): StickyEvent[] | null {
  try {
    return decodeBatch(payload);
  } catch (err) {
    warn({
      kind: 'undecodable',
      path,
      offset: at,
      message: `trace ${path}: the batch at byte ${at} is intact but cannot be decoded (${(err as Error).message}); skipped`,
    });
    return null;
  }
}

/** What a segment's end says: how many events were rejected, and whether the recording was interrupted. */
function warnAtEnd(path: string, pos: number, dropped: number, interrupted: boolean, events: number, warn: WarnFn) {
  if (dropped > 1) {
    warn({
      kind: 'rejected',
      path,
      offset: pos,
      message: `trace ${path}: ${dropped} events rejected in all as implausible or malformed (the report counts them by reason)`,
    });
  }
  if (interrupted) {
    warn({
      kind: 'interrupted',
      path,
      offset: pos,
      message: `trace ${path} ends at byte ${pos} without an end frame (the recording was interrupted); the ${events} events in it are read`,
    });
  }
}

function warnDamaged(path: string, pos: number, r: FrameParse, next: number, size: number, warn: WarnFn): void {
  const why = r.kind === 'bad' ? r.reason : 'frame length runs past the end of the file';
  const resumed =
    next < 0
      ? `no intact frame follows (${size - pos} bytes skipped)`
      : `resuming at byte ${next} (${next - pos} bytes skipped)`;
  warn({
    kind: 'corrupt',
    path,
    offset: pos,
    message: `trace ${path} has a damaged frame at byte ${pos} (${why}); ${resumed}`,
  });
}

/**
 * A segment's header, its catalogs checked (those rejected are counted and left out);
 * 'refused' when it is not the continuation expected, null when it cannot be read.
 */
function segmentHeader(
  path: string,
  at: number,
  payload: Uint8Array,
  expect: SegmentExpectation | null,
  rejected: RejectedEvents,
  noteRejection: (at: number, what: string, r: Rejection) => void,
  warn: WarnFn,
): TraceHeader | 'refused' | null {
  const raw = parseJson(path, at, 'header', () => decodeHeader(payload), warn);
  if (!raw) return null;
  if (expect && (raw.recordingId !== expect.recordingId || raw.segment !== expect.segment)) {
    const other = raw.recordingId !== expect.recordingId;
    warn({
      kind: 'segment-order',
      path,
      offset: at,
      message: other
        ? `trace ${path} should continue the recording in ${expect.previous} (recording ${expect.recordingId}), but its header names recording ${raw.recordingId}; not read, reading stops there`
        : `trace ${path} should be segment ${expect.segment}, following ${expect.previous}, but its header says segment ${raw.segment} (a repeated or out-of-order segment, perhaps a copy); not read, reading stops there`,
    });
    return 'refused';
  }
  const catalogs: CatalogEvent[] = [];
  raw.catalogs.forEach((c, i) => {
    const p =
      typeof c === 'object' && c !== null && (c as { type?: unknown }).type === 'catalog'
        ? eventProblem(c, Date.now() * 1000)
        : {
            reason: 'malformed' as const,
            field: 'type',
            detail: `should be a catalog event; got ${JSON.stringify(c)?.slice(0, 80)}`,
          };
    if (p === null) catalogs.push(c as CatalogEvent);
    else {
      rejected.add(p.reason);
      noteRejection(at, `the header's catalogs[${i}]`, { ...p, detail: `catalogs[${i}].${p.detail}` });
    }
  });
  return { ...raw, catalogs };
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
