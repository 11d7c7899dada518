// Pipeline throughput, live: records the probe wrote earlier in this run are replayed into a real agent (decode ->
// enrich -> gRPC server) and a real aggregator (gRPC client -> applyEvents), as fast as they go and paced at the target
// rate. The kernel cannot make that many flows on this machine while also running the pipeline, hence replay.
import { chmodSync, closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECORD_SIZE, RecordType, Off } from '../../src/probe/record-layout.js';
import { EnvironmentError } from '../../src/core/errors.js';
import { checkAborted } from './procs.js';
import type { BenchLab } from './bench-lab.js';
import { settle, startStickyscope } from './consumers.js';

export interface PipelineRun {
  /** Replay rate in records/s; 0 = unpaced. */
  paced: number;
  /** The agent's subscriber: the aggregator, or one that only counts (the agent's cost alone). */
  countOnly: boolean;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  lost: number;
  /** CPU seconds per million events = CPU microseconds per event. */
  agentUsPerEvent: number;
  subscriberUsPerEvent: number;
}

/** Joins helper outputs into one stream: the first HELLO (and its ATTACH records), then every other record, at most `max`. */
export function joinRecords(files: string[], out: string, max: number): number {
  const fd = openSync(out, 'w');
  let records = 0;
  try {
    for (const [i, f] of files.entries()) {
      const buf = readFileSync(f);
      const whole = buf.length - (buf.length % RECORD_SIZE);
      // Later files' HELLO and the ATTACH records after it describe their own helper run: leave them out.
      let skip = 0;
      if (i > 0 && buf[Off.type] === RecordType.hello)
        do skip += RECORD_SIZE;
        while (skip < whole && buf[skip + Off.type] === RecordType.attach);
      const take = Math.min(whole - skip, (max - records) * RECORD_SIZE);
      if (take <= 0) continue;
      writeSync(fd, buf, skip, take);
      records += take / RECORD_SIZE;
    }
  } finally {
    closeSync(fd);
  }
  return records;
}

async function once(
  b: BenchLab,
  records: string,
  dir: string,
  { rate, countOnly }: { rate: number; countOnly: boolean },
  flows: number,
): Promise<PipelineRun> {
  const go = join(dir, 'replay.go');
  rmSync(go, { force: true });
  const wrapper = join(dir, 'replay-helper.sh');
  const script = fileURLToPath(new URL('./replay-helper.js', import.meta.url));
  writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${script}' '${records}' '${go}' ${rate}\n`);
  chmodSync(wrapper, 0o755);
  const s = await startStickyscope(b, { replay: wrapper, countOnly });
  try {
    const a0 = await s.agent.stats();
    const g0 = await s.aggregator.stats();
    const start = Date.now();
    writeFileSync(go, '');
    const got = await settle(async () => (await s.aggregator.stats()).dnat, g0.dnat + flows, 1000, 60_000);
    const a1 = await s.agent.stats();
    const g1 = await s.aggregator.stats();
    const events = g1.events - g0.events;
    const seconds = (g1.lastMs - start) / 1000;
    const cpu = (c: { user: number; system: number }) => c.user + c.system;
    return {
      paced: rate,
      countOnly,
      events,
      seconds,
      eventsPerSecond: events / seconds,
      lost: flows - (got - g0.dnat),
      agentUsPerEvent: ((cpu(a1.cpu) - cpu(a0.cpu)) / (a1.events - a0.events)) * 1e6,
      subscriberUsPerEvent: ((cpu(g1.cpu) - cpu(g0.cpu)) / events) * 1e6,
    };
  } finally {
    await s.stop();
  }
}

export async function measurePipeline(
  b: BenchLab,
  opts: { recordFiles: string[]; dir: string; maxRecords: number; targetRate: number },
  log: (line: string) => void,
): Promise<PipelineRun[]> {
  const records = join(opts.dir, 'replay.bin');
  const n = joinRecords(opts.recordFiles, records, opts.maxRecords);
  const buf = readFileSync(records);
  let flows = 0;
  for (let o = Off.type; o < buf.length; o += RECORD_SIZE) if (buf[o] === RecordType.dnat) flows++;
  if (flows === 0)
    throw new EnvironmentError(
      'failed to measure the pipeline: the probe recorded no dnat records earlier in this run; expected hundreds of thousands',
    );
  const runs: PipelineRun[] = [];
  const plan = [
    { rate: 0, countOnly: false },
    { rate: opts.targetRate, countOnly: false },
    { rate: 0, countOnly: true },
  ];
  for (const how of plan) {
    checkAborted();
    const r = await once(b, records, opts.dir, how, flows);
    runs.push(r);
    log(
      `pipeline ${how.rate === 0 ? 'unpaced' : `paced ${how.rate}/s`}${how.countOnly ? ', counting subscriber' : ''}: ${n} records (${flows} dnat) -> ${r.events} events in ${r.seconds.toFixed(2)} s = ${Math.round(r.eventsPerSecond)}/s, lost ${r.lost}`,
    );
  }
  return runs;
}
