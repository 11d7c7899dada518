// Child process: writes a trace of N synthetic selections (many clients, several nodes, Services with endpoints) and
// times `report FILE --format json` over it (read, check, decode, aggregate, render); prints one JSON line.
// Usage: node file-worker.js TRACE_PATH EVENTS
import { stat } from 'node:fs/promises';
import { DEFAULT_SHAPE } from './measure-throughput.js';
import { syntheticCatalogs, syntheticSelections } from './synthetic-events.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { reportFromFile } from '../../src/report/from-file.js';

const [path, eventsText] = process.argv.slice(2) as [string, string];
const events = Number(eventsText);
const w = await TraceWriter.open(path, { nodes: syntheticCatalogs(DEFAULT_SHAPE).map((c) => c.node) });
await w.append(syntheticCatalogs(DEFAULT_SHAPE));
for (let from = 0; from < events; from += 8192)
  await w.append(syntheticSelections(DEFAULT_SHAPE, from, Math.min(8192, events - from)));
await w.close();
const bytes = (await stat(path)).size;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await reportFromFile(path, { format: 'json' });
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ events, bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n');
