// CRC-32 (IEEE 802.3, the zlib/PNG polynomial): each trace frame's check that catches
// flipped bytes. Every byte of a trace goes through here, so it is zlib's native one
// (zlib.crc32, Node >= 20.15), several times the speed of any table loop in JavaScript.
import { crc32 as zlibCrc32 } from 'node:zlib';

/** CRC-32 of bytes[start, end), as an unsigned 32-bit number; `value` continues an earlier CRC. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, value = 0): number {
  return zlibCrc32(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), value);
}
