// A window onto a file read in large chunks: the trace reader asks for bytes up to an
// absolute offset and drops what it has consumed, so memory stays bounded by one frame
// plus one chunk whatever the file's size.
import type { FileHandle } from 'node:fs/promises';

const CHUNK_BYTES = 4 * 1024 * 1024;

export class ByteSource {
  /** buf[0] is the byte at this file offset. */
  start = 0;
  buf: Buffer = Buffer.alloc(0);
  eof = false;
  private nextRead = 0;

  constructor(private readonly fh: FileHandle) {}

  /** File offset just past the buffered bytes. */
  get end(): number {
    return this.start + this.buf.length;
  }

  /** Reads until the buffer reaches file offset `until` or the file ends. Returns whether it did. */
  async fill(until: number): Promise<boolean> {
    while (this.end < until && !this.eof) {
      const want = Math.max(CHUNK_BYTES, until - this.end);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await this.fh.read(chunk, 0, want, this.nextRead);
      if (bytesRead === 0) this.eof = true;
      this.nextRead += bytesRead;
      // A fresh buffer rather than copying within the old one: payloads already handed
      // out are views of the old one and must stay intact.
      this.buf =
        this.buf.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([this.buf, chunk.subarray(0, bytesRead)]);
    }
    return this.end >= until;
  }

  /** Reads into `target` from file offset `position`, outside the window; resolves to the bytes read. */
  async readAt(target: Buffer, position: number): Promise<number> {
    return (await this.fh.read(target, 0, target.length, position)).bytesRead;
  }

  /** Moves the window to start at file offset `offset`, empty. */
  seek(offset: number): void {
    this.buf = Buffer.alloc(0);
    this.start = this.nextRead = offset;
    this.eof = false;
  }

  /** Forgets bytes before file offset `offset`. */
  discard(offset: number): void {
    const drop = Math.min(offset - this.start, this.buf.length);
    if (drop <= 0) return;
    this.buf = this.buf.subarray(drop);
    this.start += drop;
  }
}
