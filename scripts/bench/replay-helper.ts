// Stand-in for the probe helper in the pipeline measurement: writes recorded records to stdout, HELLO and its ATTACH
// records at once (the agent is ready once they are in), the rest once GO_FILE exists at `rate` records/s (0 = as fast
// as the pipe takes them), then waits for stdin to end. Usage: node replay-helper.js RECORDS_FILE GO_FILE RATE
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Off, RECORD_SIZE, RecordType } from '../../src/probe/record-layout.js';

const [file, goFile, rateText] = process.argv.slice(2) as [string, string, string];
const buf = readFileSync(file);
const rate = Number(rateText);

function write(chunk: Buffer): Promise<void> {
  return process.stdout.write(chunk) ? Promise.resolve() : new Promise((r) => process.stdout.once('drain', () => r()));
}

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
let at = RECORD_SIZE;
while (at < buf.length && buf[at + Off.type] === RecordType.attach) at += RECORD_SIZE;
await write(buf.subarray(0, at));
while (!existsSync(goFile)) await sleep(10);
const t0 = performance.now();
const start = at;
while (at < buf.length) {
  const due =
    rate > 0
      ? Math.min(buf.length, start + Math.floor(((performance.now() - t0) / 1000) * rate) * RECORD_SIZE)
      : Math.min(buf.length, at + 4096 * RECORD_SIZE);
  if (due > at) {
    await write(buf.subarray(at, due));
    at = due;
  } else await sleep(5);
}
