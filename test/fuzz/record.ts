// Fuzz targets: the trace file reader, given whole files (a valid trace mutated, or bytes from nothing), and given
// frames whose CRCs are made right after the mutation, so damaged payloads get past the framing to the decoders.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { readTrace } from '../../src/record/trace-reader.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { encodeFrame, encodePreamble, parseFrame, PREAMBLE_BYTES, type FrameTypeName } from '../../src/record/frame.js';
import type { StickyEvent } from '../../src/core/event.js';
import { InvalidResult, type FuzzTarget } from './target.js';

// In a fuzz worker, under the harness's scratch directory, which outlives a terminated worker's 'exit' handlers.
const dir = mkdtempSync(
  join((workerData as { scratchDir?: string } | null)?.scratchDir ?? tmpdir(), 'stickyscope-fuzz-trace-'),
);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const T0 = 1_795_435_865_000_000;
const events: StickyEvent[] = Array.from({ length: 6 }, (_v, i) => ({
  type: 'dnat',
  ts: T0 + i,
  node: 'n1',
  proto: 'tcp',
  client: `10.0.0.${i}:4000`,
  service: '10.96.0.10:80',
  backend: '10.1.0.2:8080',
  hook: 'prerouting',
  ctId: `${i}`,
}));

/** A two-batch trace, written by the recorder's own writer. */
async function validTrace(): Promise<Uint8Array> {
  const path = join(dir, 'seed.trace');
  const w = await TraceWriter.open(path, { nodes: ['n1'], agents: ['127.0.0.1:7390'] });
  await w.append(events.slice(0, 3));
  await w.append(events.slice(3));
  await w.close();
  return readFileSync(path);
}
const seed = await validTrace();

async function readAll(file: Uint8Array): Promise<void> {
  const path = join(dir, `case-${n++ % 4}.trace`);
  writeFileSync(path, file);
  for await (const batch of readTrace(path, { onWarning: () => {}, followRotation: false }))
    if (!Array.isArray(batch)) throw new InvalidResult('readTrace yielded something that is not a batch');
}

export const traceTarget: FuzzTarget = {
  name: 'trace-file',
  seeds: () => [seed],
  run: readAll,
};

/**
 * The frames target's input: records of a type letter (H, B, E; anything else reads as B), a 2-byte length (LE) and
 * that many payload bytes, each written as a frame with its CRC computed. The seed is the valid trace's frames.
 */
const typeOf: Record<number, FrameTypeName> = { 72: 'header', 66: 'batch', 69: 'end' };
const letterOf: Record<FrameTypeName, number> = { header: 0x48, batch: 0x42, end: 0x45 };

function framesOf(trace: Uint8Array): Uint8Array {
  const out: Buffer[] = [];
  for (let at = PREAMBLE_BYTES; ; ) {
    const f = parseFrame(trace, at, trace.length);
    if (f.kind !== 'frame') break;
    const head = Buffer.alloc(3);
    head[0] = letterOf[f.type];
    head.writeUInt16LE(f.payload.length, 1);
    out.push(head, Buffer.from(f.payload));
    at = f.end;
  }
  return Buffer.concat(out);
}

export const traceFramesTarget: FuzzTarget = {
  name: 'trace-frames',
  seeds: () => [framesOf(seed)],
  run(input) {
    const b = Buffer.from(input);
    const file: Buffer[] = [encodePreamble()];
    for (let at = 0; at + 3 <= b.length; ) {
      const len = b.readUInt16LE(at + 1);
      file.push(encodeFrame(typeOf[b[at]!] ?? 'batch', b.subarray(at + 3, at + 3 + len)));
      at += 3 + len;
    }
    return readAll(Buffer.concat(file));
  },
};
