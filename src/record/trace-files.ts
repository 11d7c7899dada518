// The trace files a command was pointed at: files as given, and for a directory every trace in it (by name), except
// the rotated continuations FILE.1, FILE.2, ... of a FILE in the same directory, which reading FILE follows. The same
// recording given twice (twice by name, as a copy, through a symlink) is read once: it would count twice.
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { fileError } from '../core/file-errors.js';
import { FORMAT_VERSION, MAGIC, MAX_PAYLOAD_BYTES, PREAMBLE_BYTES, parseFrame } from './frame.js';
import { decodeHeader } from './trace-header.js';

/** What a file says it is: its format version, and which segment of which recording (null: unreadable header). */
interface Identity {
  version: number;
  recording: { id: string; segment: number } | null;
}

/** Enough bytes for the preamble and the header frame's type and length. */
const HEAD_BYTES = PREAMBLE_BYTES + 8;

/** The file's preamble and header frame; null when it is not a trace at all. */
async function identify(path: string): Promise<Identity | null> {
  const fh = await open(path, 'r');
  try {
    let buf = Buffer.alloc(HEAD_BYTES);
    let { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead < PREAMBLE_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return null;
    const version = buf.readUInt16LE(MAGIC.length);
    if (version > FORMAT_VERSION) return { version, recording: null };
    let frame = parseFrame(buf, PREAMBLE_BYTES, bytesRead);
    if (frame.kind === 'incomplete' && bytesRead === buf.length) {
      // The header carries the catalogs: read as much as its length says, at most one frame's worth.
      buf = Buffer.alloc(PREAMBLE_BYTES + 1 + 4 + Math.min(frameLength(buf), MAX_PAYLOAD_BYTES) + 4);
      ({ bytesRead } = await fh.read(buf, 0, buf.length, 0));
      frame = parseFrame(buf, PREAMBLE_BYTES, bytesRead);
    }
    if (frame.kind !== 'frame' || frame.type !== 'header') return { version, recording: null };
    const h = decodeHeader(frame.payload);
    return { version, recording: { id: h.recordingId, segment: h.segment } };
  } catch {
    return { version: FORMAT_VERSION, recording: null };
  } finally {
    await fh.close();
  }
}

/** The varint payload length of the frame right after the preamble. */
function frameLength(buf: Buffer): number {
  let len = 0;
  for (let p = PREAMBLE_BYTES + 1, shift = 0; p < buf.length && shift <= 21; p++, shift += 7) {
    len += (buf[p]! & 0x7f) * 2 ** shift;
    if (buf[p]! < 0x80) break;
  }
  return len;
}

/** A directory's traces by name, without the continuations of a FILE also there. */
async function tracesIn(dir: string, onSkipped: (path: string, why: string) => void): Promise<string[]> {
  const names = (
    await readdir(dir).catch((err: unknown) => {
      throw fileError(err, 'list traces in', dir, 'read');
    })
  ).sort();
  const traces: string[] = [];
  for (const name of names) {
    const full = join(dir, name);
    const st = await stat(full).catch(() => null);
    if (!st?.isFile()) continue;
    const id = await identify(full).catch(() => null);
    if (id === null) onSkipped(full, 'not a trace file');
    else if (id.version > FORMAT_VERSION)
      onSkipped(full, `trace format version ${id.version} is newer than this stickyscope reads (${FORMAT_VERSION})`);
    else traces.push(name);
  }
  if (traces.length === 0) throw new InputError(`no trace files in the directory ${dir} (${names.length} entries)`);
  const present = new Set(traces);
  return traces.filter((name) => !present.has(/^(.*)\.\d+$/.exec(name)?.[1] ?? '')).map((name) => join(dir, name));
}

/**
 * Paths to read, in order; a directory's non-trace files and newer-format traces are skipped and passed to
 * `onSkipped`, one without traces refused. A file is skipped when it is a recording's segment already read: the same
 * file again, the same recording id and segment, or a later segment of a recording whose earlier one is listed
 * (reading that follows the rotation into it).
 */
export async function traceFiles(
  paths: readonly string[],
  onSkipped: (path: string, why: string) => void,
): Promise<string[]> {
  const listed: string[] = [];
  for (const p of paths) {
    const s = await stat(p).catch((err: unknown) => {
      throw fileError(err, 'open trace', p, 'read');
    });
    listed.push(...(s.isDirectory() ? await tracesIn(p, onSkipped) : [p]));
  }
  const ids = await Promise.all(listed.map((p) => identify(p).catch(() => null)));
  const firstSegment = new Map<string, number>();
  for (const id of ids)
    if (id?.recording && id.recording.id !== '')
      firstSegment.set(id.recording.id, Math.min(firstSegment.get(id.recording.id) ?? Infinity, id.recording.segment));
  const seenFiles = new Map<string, string>();
  const seenSegments = new Map<string, string>();
  const out: string[] = [];
  for (const [i, p] of listed.entries()) {
    const real = await realpath(p).catch(() => p);
    const rec = ids[i]?.recording;
    const key = rec && rec.id !== '' ? `${rec.id}/${rec.segment}` : null;
    const again = seenFiles.get(real) ?? (key ? seenSegments.get(key) : undefined);
    if (again !== undefined) {
      onSkipped(p, `the same recording as ${again} (read once, or it would count twice)`);
      continue;
    }
    if (rec && key && rec.segment > firstSegment.get(rec.id)!) {
      onSkipped(
        p,
        `segment ${rec.segment} of a recording whose segment ${firstSegment.get(rec.id)} is read, which goes on into it`,
      );
      continue;
    }
    seenFiles.set(real, p);
    if (key) seenSegments.set(key, p);
    out.push(p);
  }
  return out;
}
