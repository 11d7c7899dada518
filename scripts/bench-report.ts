// Measures report-from-file throughput: writes a synthetic trace of dnat events (many clients, a few Services, with and
// without affinity), then times `report FILE --format json` in-process (read, check, decode, aggregate, render). Usage:
// node dist/scripts/bench-report.js [events]
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CatalogEvent, DnatEvent } from '../src/core/event.js';
import { readTrace } from '../src/record/trace-reader.js';
import { TraceWriter } from '../src/record/trace-writer.js';
import { reportFromFile } from '../src/report/from-file.js';

const total = Number(process.argv[2] ?? 1_000_000);
const CLIENTS = 20_000;
const BATCH = 2048;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const services = [
  { ip: '10.96.0.10', port: 80, name: 'lab/web:http', affinity: true, backends: 3 },
  { ip: '10.96.0.11', port: 443, name: 'lab/api:https', affinity: false, backends: 5 },
  { ip: '10.96.0.12', port: 53, name: 'kube-system/kube-dns:dns', affinity: true, backends: 2 },
];
const endpointsOf = (s: number) => Array.from({ length: services[s]!.backends }, (_, b) => `10.1.${s}.${b + 2}:8080`);

async function writeTrace(path: string): Promise<void> {
  const catalog: CatalogEvent = {
    type: 'catalog',
    ts: T0,
    node: 'bench-node',
    services: services.map((s, i) => ({
      service: `${s.ip}:${s.port}/tcp`,
      name: s.name,
      endpoints: endpointsOf(i),
      affinity: s.affinity
        ? { mode: 'ClientIP' as const, timeoutSeconds: 10800, source: 'rules' as const }
        : { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
    })),
  };
  const w = await TraceWriter.open(path, { nodes: ['bench-node'] });
  await w.append([catalog]);
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let i = 0; i < total; i += BATCH) {
    const batch: DnatEvent[] = [];
    for (let k = i; k < Math.min(total, i + BATCH); k++) {
      const c = Math.floor(rand() * CLIENTS);
      const s = c % services.length;
      const svc = services[s]!;
      // Affinity keeps most picks on the client's own backend; the rest are random.
      const b =
        svc.affinity && rand() < 0.97
          ? Math.floor(c / services.length) % svc.backends
          : Math.floor(rand() * svc.backends);
      batch.push({
        type: 'dnat',
        ts: T0 + k * 600,
        node: 'bench-node',
        proto: 'tcp',
        client: `10.${2 + (c >> 16)}.${(c >> 8) & 255}.${c & 255}:${32768 + (k % 28000)}`,
        service: `${svc.ip}:${svc.port}`,
        backend: endpointsOf(s)[b]!,
        hook: 'prerouting',
        ctId: ((k * 2654435761) >>> 0).toString(16),
      });
    }
    await w.append(batch);
  }
  await w.close();
}

const dir = await mkdtemp(join(tmpdir(), 'stickyscope-bench-'));
try {
  const path = join(dir, 'bench.trace');
  let t = performance.now();
  await writeTrace(path);
  const bytes = (await stat(path)).size;
  console.log(
    `wrote ${total.toLocaleString('en-US')} dnat events, ${(bytes / 1024 / 1024).toFixed(1)} MiB, in ${((performance.now() - t) / 1000).toFixed(2)} s`,
  );
  // The reading stage alone (file, checksums, protobuf decode), to tell it from aggregation.
  t = performance.now();
  let read = 0;
  for await (const batch of readTrace(path)) read += batch.length;
  const readSecs = (performance.now() - t) / 1000;
  console.log(
    `read + check + decode only: ${readSecs.toFixed(2)} s, ${Math.round(read / readSecs).toLocaleString('en-US')} events/s`,
  );
  for (const format of ['json', 'json', 'html'] as const) {
    t = performance.now();
    const out = await reportFromFile(path, { format });
    const secs = (performance.now() - t) / 1000;
    const rate = Math.round(total / secs);
    console.log(
      `report --format ${format}: ${secs.toFixed(2)} s, ${rate.toLocaleString('en-US')} events/s (${(out.length / 1024).toFixed(0)} KiB of output)${rate >= 1_000_000 ? '' : '  BELOW 1,000,000 events/s'}`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
