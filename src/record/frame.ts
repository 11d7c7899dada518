// The byte layout of a trace file, below the meaning of its frames: a preamble (MAGIC, 8 bytes, and the format
// version, uint16 LE), then frames of type (1 byte), payload length (varint), payload and CRC-32 (uint32 LE).
import { crc32 } from './crc32.js';

export const MAGIC = Buffer.from('STKYSCP\n', 'latin1');
export const FORMAT_VERSION = 1;
export const PREAMBLE_BYTES = MAGIC.length + 2;

/** ASCII letters, so a hex dump of a trace is easy to follow. */
export const FrameType = { header: 0x48 /* H */, batch: 0x42 /* B */, end: 0x45 /* E */ } as const;
export type FrameTypeName = keyof typeof FrameType;
const typeNames = new Map<number, FrameTypeName>(Object.entries(FrameType).map(([k, v]) => [v, k as FrameTypeName]));

/**
 * No frame is larger: bounds the memory a damaged length can make the reader buffer, and
 * how far past damage resync.ts must read before it knows no earlier candidate was intact.
 */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export function encodePreamble(version = FORMAT_VERSION): Buffer {
  const b = Buffer.alloc(PREAMBLE_BYTES);
  MAGIC.copy(b, 0);
  b.writeUInt16LE(version, MAGIC.length);
  return b;
}

export function encodeFrame(type: FrameTypeName, payload: Uint8Array): Buffer {
  if (payload.length > MAX_PAYLOAD_BYTES)
    throw new Error(`failed to frame ${payload.length} bytes: a frame holds at most ${MAX_PAYLOAD_BYTES}`);
  let lenBytes = 1;
  for (let n = payload.length; n >= 0x80; n >>>= 7) lenBytes++;
  const out = Buffer.allocUnsafe(1 + lenBytes + payload.length + 4);
  out[0] = FrameType[type];
  let p = 1;
  let n = payload.length;
  while (n >= 0x80) {
    out[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[p++] = n;
  out.set(payload, p);
  p += payload.length;
  out.writeUInt32LE(crc32(out, 0, p), p);
  return out;
}

export type FrameParse =
  | { kind: 'frame'; type: FrameTypeName; payload: Uint8Array; end: number }
  /** The bytes up to `end` of the buffer could be the start of a frame that continues past it. */
  | { kind: 'incomplete' }
  | { kind: 'bad'; reason: string };

/**
 * Tries to read one frame at buf[at], looking no further than buf[end - 1]. The CRC covers type, length and payload,
 * so a damaged length is caught as surely as a damaged payload, and a reader can find the next intact frame after
 * damage by trying each later offset until one parses and checks out.
 */
export function parseFrame(buf: Uint8Array, at: number, end: number): FrameParse {
  if (at >= end) return { kind: 'incomplete' };
  const type = typeNames.get(buf[at]!);
  if (type === undefined)
    return { kind: 'bad', reason: `unknown frame type 0x${buf[at]!.toString(16).padStart(2, '0')}` };
  let len = 0;
  let p = at + 1;
  for (let shift = 0; ; shift += 7) {
    if (p >= end) return { kind: 'incomplete' };
    if (shift > 21) return { kind: 'bad', reason: 'frame length is not a valid varint' };
    const b = buf[p++]!;
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  if (len > MAX_PAYLOAD_BYTES)
    return { kind: 'bad', reason: `frame length ${len} exceeds the maximum ${MAX_PAYLOAD_BYTES}` };
  const crcAt = p + len;
  if (crcAt + 4 > end) return { kind: 'incomplete' };
  const stored = (buf[crcAt]! | (buf[crcAt + 1]! << 8) | (buf[crcAt + 2]! << 16) | (buf[crcAt + 3]! << 24)) >>> 0;
  if (crc32(buf, at, crcAt) !== stored) return { kind: 'bad', reason: 'frame checksum does not match its contents' };
  return { kind: 'frame', type, payload: buf.subarray(p, crcAt), end: crcAt + 4 };
}
