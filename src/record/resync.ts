// Finds the next intact frame after damage in one pass, in time linear in the damage: the CRC of each prefix is carried
// along, and CRC-32's linearity gives any candidate frame's CRC from the prefix CRCs at its two ends,
// crc(b[q,c)) = shift(crc(b[s,q)), c-q) ^ crc(b[s,c)), instead of reading up to 16 MiB per candidate offset.
import { crc32 } from './crc32.js';
import { FrameType, MAX_PAYLOAD_BYTES } from './frame.js';

/** Reads into buf from file offset `position`; resolves to the bytes read (0 at the end). */
export type ReadAt = (buf: Buffer, position: number) => Promise<number>;

const CHUNK = 1024 * 1024;
/** Bytes of the previous chunk kept in front of the next: a type byte, its length varint and a CRC. */
const CARRY = 8;
/** Candidates checked at once (20 bytes each, 20 MiB in all); more are taken in a later pass over the same bytes. */
const MAX_PENDING = 1 << 20;

const isType = new Uint8Array(256);
for (const t of Object.values(FrameType)) isType[t] = 1;

/**
 * The offset of the first frame at or after `from` whose type, length and CRC check out,
 * or -1 when none does before the file ends.
 */
export async function findNextFrame(read: ReadAt, from: number): Promise<number> {
  for (let start = from; ; ) {
    const r = await pass(read, start);
    if (typeof r === 'number') return r;
    start = r.resumeAt;
  }
}

/**
 * One pass from `start`: the first intact frame, -1, or where to start again when
 * more candidates turned up than one pass holds (none of those it held was intact).
 */
async function pass(read: ReadAt, start: number): Promise<number | { resumeAt: number }> {
  const heap = new CandidateHeap();
  let collecting = true;
  let resumeAt = -1;
  let best = -1;
  /** Pending candidates that start before `best` and so could still beat it. */
  let beforeBest = 0;
  let crc = 0; // CRC-32 of the bytes [start, pos)
  let pos = start;
  // work[0] is the byte at file offset `base`; bytes up to `avail` are valid.
  const work = Buffer.allocUnsafe(CHUNK + CARRY);
  let base = start;
  let avail = 0;
  let eof = false;
  for (;;) {
    // Keep the unprocessed tail (at most CARRY bytes), read the next chunk after it.
    const keep = avail - (pos - base);
    if (keep > 0) work.copy(work, 0, pos - base, avail);
    base = pos;
    avail = Math.max(keep, 0);
    if (!eof) {
      const n = await read(work.subarray(avail), base + avail);
      if (n === 0) eof = true;
      avail += n;
    }
    // Short of the end, stop CARRY bytes early so a candidate's length and a CRC are always whole.
    const limit = base + (eof ? avail : avail - CARRY);
    let nextCandidate = collecting ? scanType(work, pos - base, limit - base) + base : Infinity;
    while (pos < limit || (eof && pos === limit && heap.size > 0 && heap.topEnd() === pos)) {
      const nextEnd = heap.size > 0 ? heap.topEnd() : Infinity;
      const target = Math.min(nextCandidate, nextEnd, limit);
      if (target > pos) {
        crc = crc32(work, pos - base, target - base, crc);
        pos = target;
      }
      if (pos === nextEnd) {
        while (heap.size > 0 && heap.topEnd() === pos) {
          const q = heap.topStart();
          const crcAtQ = heap.topCrc();
          heap.pop();
          if (best !== -1 && q < best) beforeBest--;
          if (pos + 4 > base + avail) continue; // the file ends inside its CRC
          const stored = work.readUInt32LE(pos - base);
          if ((shift(crcAtQ, pos - q) ^ crc) >>> 0 !== stored) continue;
          if (best === -1 || q < best) {
            best = q;
            collecting = false;
            nextCandidate = Infinity;
            beforeBest = heap.countStartsBefore(best);
          }
        }
        if (best !== -1 && beforeBest === 0) return best;
        continue;
      }
      if (pos === nextCandidate && pos < limit) {
        const end = candidateEnd(work, pos - base, base + avail - base);
        if (end !== -1) {
          if (heap.size === MAX_PENDING) {
            collecting = false;
            resumeAt = pos;
            nextCandidate = Infinity;
            continue;
          }
          heap.push(base + end, pos, crc);
        }
        nextCandidate = scanType(work, pos + 1 - base, limit - base) + base;
      }
    }
    if (eof) break;
    if (!collecting && heap.size === 0) break;
  }
  if (best !== -1) return best;
  return resumeAt === -1 ? -1 : { resumeAt };
}

/** Index of the first frame-type byte in buf[from, to), or `to`. */
function scanType(buf: Buffer, from: number, to: number): number {
  for (let i = from; i < to; i++) if (isType[buf[i]!]) return i;
  return to;
}

/** Where the CRC of a frame starting at buf[at] would be (relative to buf), or -1 when its length is invalid. */
function candidateEnd(buf: Buffer, at: number, avail: number): number {
  let len = 0;
  let p = at + 1;
  for (let shiftBits = 0; ; shiftBits += 7) {
    if (p >= avail || shiftBits > 21) return -1;
    const b = buf[p++]!;
    len += (b & 0x7f) * 2 ** shiftBits;
    if (b < 0x80) break;
  }
  return len > MAX_PAYLOAD_BYTES ? -1 : p + len;
}

// shift(v, n) for n < 2^25 bytes as a product of the operators "append 2^k zero bytes",
// each a 32x32 matrix over GF(2) applied a byte of v at a time through four tables.
const POLY = 0xedb88320;
const SHIFT_BITS = 25;
let shiftTables: Uint32Array | null = null;

/** a * b modulo the CRC polynomial, in CRC-32's bit-reflected representation. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

function buildShiftTables(): Uint32Array {
  const t = new Uint32Array(SHIFT_BITS * 1024);
  // x^8 (one zero byte) is 1 << 23 reflected; squaring gives x^(8 * 2^k).
  let power = 1 << 23;
  for (let k = 0; k < SHIFT_BITS; k++) {
    for (let j = 0; j < 4; j++)
      for (let b = 0; b < 256; b++) t[k * 1024 + j * 256 + b] = multModP(power, (b << (8 * j)) >>> 0);
    power = multModP(power, power);
  }
  return t;
}

/** The raw CRC register v after n more zero bytes. */
function shift(v: number, n: number): number {
  if (shiftTables === null) shiftTables = buildShiftTables();
  const t = shiftTables;
  for (let k = 0; n > 0; k++, n >>>= 1) {
    if ((n & 1) === 0) continue;
    const o = k * 1024;
    v =
      t[o + (v & 255)]! ^ t[o + 256 + ((v >>> 8) & 255)]! ^ t[o + 512 + ((v >>> 16) & 255)]! ^ t[o + 768 + (v >>> 24)]!;
  }
  return v;
}

/** Candidates by the offset of their CRC (a binary min-heap in typed arrays). */
class CandidateHeap {
  size = 0;
  private ends = new Float64Array(1024);
  private starts = new Float64Array(1024);
  private crcs = new Uint32Array(1024);

  topEnd(): number {
    return this.ends[0]!;
  }
  topStart(): number {
    return this.starts[0]!;
  }
  topCrc(): number {
    return this.crcs[0]!;
  }

  countStartsBefore(q: number): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (this.starts[i]! < q) n++;
    return n;
  }

  push(end: number, start: number, crc: number): void {
    if (this.size === this.ends.length) this.grow();
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.ends[parent]! <= end) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, end, start, crc);
  }

  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const end = this.ends[n]!;
    const start = this.starts[n]!;
    const crc = this.crcs[n]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.ends[child + 1]! < this.ends[child]!) child++;
      if (this.ends[child]! >= end) break;
      this.move(child, i);
      i = child;
    }
    this.set(i, end, start, crc);
  }

  private grow(): void {
    const n = this.ends.length * 2;
    const ends = new Float64Array(n);
    const starts = new Float64Array(n);
    const crcs = new Uint32Array(n);
    ends.set(this.ends);
    starts.set(this.starts);
    crcs.set(this.crcs);
    this.ends = ends;
    this.starts = starts;
    this.crcs = crcs;
  }

  private move(from: number, to: number): void {
    this.set(to, this.ends[from]!, this.starts[from]!, this.crcs[from]!);
  }

  private set(i: number, end: number, start: number, crc: number): void {
    this.ends[i] = end;
    this.starts[i] = start;
    this.crcs[i] = crc;
  }
}
