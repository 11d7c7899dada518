// `node --expose-gc dist/scripts/bench/serve-memory.js [HOURS]`: the soak's traffic (scripts/soak-serve.sh: the
// lab's four clients and four Services at 10 requests/s each) through serve's hub in event time, so hours take
// seconds; prints the heap after a full GC every 20 simulated minutes, to show where serve's memory levels off.
import type { DnatEvent, Proto } from '../../src/core/event.js';
import { ServeHub } from '../../src/serve/hub.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('serve-memory: run with node --expose-gc\n');
  process.exit(2);
}
const hours = Number(process.argv[2] ?? 5);
if (!(hours > 0 && hours <= 48)) {
  process.stderr.write(`serve-memory: HOURS must be a number in (0, 48], got '${process.argv[2]}'\n`);
  process.exit(2);
}
const hub = new ServeHub({ windows: [3600, 300] });
const clients = ['10.0.1.2', '10.0.2.2', '10.0.3.2', '10.2.1.2'];
const services: { service: string; proto: Proto; name: string; sticky?: true; every?: number }[] = [
  { service: '10.96.0.10:80', proto: 'tcp', name: 'lab/web:http' },
  { service: '10.96.0.11:80', proto: 'tcp', name: 'lab/sticky:http', sticky: true },
  { service: '10.96.0.12:53', proto: 'udp', name: 'lab/dns:dns' },
  // keep-alive through the NodePort: a new connection every 10 requests
  { service: '10.3.0.1:30080', proto: 'tcp', name: 'lab/edge:http', every: 10 },
];
const backends = ['10.1.1.2', '10.1.2.2', '10.1.3.2'];
const pinned = new Map<string, string>();
let ts = Date.UTC(2026, 10, 26, 12) * 1000;
let ct = 1;
let events = 0;
const stepUs = 100_000;
const stepsPer20Min = (20 * 60 * 1e6) / stepUs;
for (let step = 0; step < hours * 3 * stepsPer20Min; step++) {
  ts += stepUs;
  const batch: DnatEvent[] = [];
  for (const c of clients)
    for (const s of services) {
      if (s.every && step % s.every !== 0) continue;
      // Linux's default ephemeral range: source ports recur, as UDP 5-tuples do on a real node.
      const port = 32768 + Math.floor(Math.random() * 28232);
      let b = backends[Math.floor(Math.random() * backends.length)]!;
      if (s.sticky) {
        if (!pinned.has(c)) pinned.set(c, b);
        b = pinned.get(c)!;
      }
      batch.push({
        type: 'dnat',
        ts,
        node: 'node',
        proto: s.proto,
        client: `${c}:${port}`,
        service: s.service,
        backend: `${b}:${s.proto === 'udp' ? 5353 : 8080}`,
        hook: 'prerouting',
        ctId: (ct++).toString(16),
        serviceName: s.name,
      });
    }
  hub.apply(batch);
  events += batch.length;
  if ((step + 1) % stepsPer20Min === 0) {
    gc();
    const m = process.memoryUsage();
    const mib = (b: number) => (b / 1048576).toFixed(1);
    process.stdout.write(
      `${(step + 1) / (stepsPer20Min / 20)} min  events ${events}  heap ${mib(m.heapUsed)} MiB  rss ${mib(m.rss)} MiB\n`,
    );
  }
}
