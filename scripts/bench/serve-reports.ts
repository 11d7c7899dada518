// `node dist/scripts/bench/serve-reports.js [--services 5000] [--clients 4] [--requests 6] [--bin PATH]`:
// one `serve` (bin/stickyscope.js, or --bin: another build's, to compare) following an in-process agent that
// sends N Services and CLIENTS x 2 selections of each; then REQUESTS concurrent /report.html while /healthz is
// asked again and again. Prints serve's RSS before and at its peak (its threads included), the CPU it used
// until the last report answered, the answers, and the slowest /healthz. serve is stopped by its PID at the end.
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getServer } from '../../src/agent/server.js';
import type { DnatEvent, StickyEvent } from '../../src/core/event.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '5000' },
    clients: { type: 'string', default: '4' },
    requests: { type: 'string', default: '6' },
    bin: { type: 'string', default: fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url)) },
  },
});
const N = Number(values.services);
const CLIENTS = Number(values.clients);
const REQUESTS = Number(values.requests);
if (!(N >= 1 && N <= 65_000 && CLIENTS >= 1 && CLIENTS <= 250 && REQUESTS >= 1 && REQUESTS <= 100))
  throw new Error(
    `serve-reports: --services 1..65000, --clients 1..250, --requests 1..100; got ${JSON.stringify(values)}`,
  );

/** CPU seconds and RSS bytes of a process, from /proc. */
function usage(pid: number): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpu: (Number(f[11]) + Number(f[12])) / 100, rss: rssKb * 1024 };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const svc = (i: number) => `10.96.${i >> 8}.${i & 255}:80`;

const source = new EventEmitter();
const agent = getServer(source, { node: 'node-a' });
const address = await agent.bind('127.0.0.1:0');
const dir = mkdtempSync(join(tmpdir(), 'stickyscope-serve-reports-'));
const ready = join(dir, 'ready');
const serve = spawn(
  process.execPath,
  [values.bin, 'serve', '--agent', address, '--listen', '127.0.0.1:0', '--ready-file', ready],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const stopAll = async () => {
  if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGTERM');
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`serve-reports: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

try {
  const url = await until('serve to listen', () =>
    existsSync(ready) ? `http://${readFileSync(ready, 'utf8').trim()}` : undefined,
  );
  await until('serve to subscribe', () => (agent.info().subscribers > 0 ? true : undefined));
  const t0 = Date.now() * 1000;
  const services = Array.from({ length: N }, (_, i) => ({
    service: `${svc(i)}/tcp`,
    name: `ns${i}/svc${i}:http`,
    affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
    endpoints: ['10.1.0.2:8080', '10.1.1.2:8080', '10.1.2.2:8080'],
  }));
  source.emit('events', [{ type: 'catalog', ts: t0, node: 'node-a', services }] as StickyEvent[]);
  let sent = 0;
  for (let round = 0; round < 2; round++)
    for (let i = 0; i < N; i++) {
      const batch: DnatEvent[] = [];
      for (let c = 0; c < CLIENTS; c++, sent++)
        batch.push({
          type: 'dnat',
          ts: t0 + 1 + sent,
          node: 'node-a',
          proto: 'tcp',
          client: `10.0.${c}.2:${40000 + round}`,
          service: svc(i),
          backend: `10.1.${sent % 3}.2:8080`,
          hook: 'prerouting',
          ctId: sent.toString(16),
        });
      source.emit('events', batch);
    }
  await until('every event in serve', async () => {
    const m = /^stickyscope_events_total (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text());
    return Number(m?.[1]) === sent + 2 ? true : undefined;
  });
  const before = usage(serve.pid!);
  let peak = before.rss;
  const sampler = setInterval(() => (peak = Math.max(peak, usage(serve.pid!).rss)), 50);
  const started = Date.now();
  let done = false;
  const answers = Promise.all(
    Array.from({ length: REQUESTS }, () =>
      fetch(`${url}/report.html?window=5m`).then(async (r) => ({
        status: r.status,
        bytes: (await r.arrayBuffer()).byteLength,
        ms: Date.now() - started,
      })),
    ),
  ).finally(() => (done = true));
  let slowest = 0;
  let probes = 0;
  while (!done) {
    const t1 = Date.now();
    await (await fetch(`${url}/healthz`)).text();
    slowest = Math.max(slowest, Date.now() - t1);
    probes++;
  }
  const got = await answers;
  clearInterval(sampler);
  const after = usage(serve.pid!);
  process.stdout.write(
    `| ${N} | ${REQUESTS} | ${got.map((a) => a.status).join(' ')} | ${((got.find((a) => a.status === 200)?.bytes ?? 0) / 1e6).toFixed(0)} MB | ${mib(before.rss)} | ${mib(peak)} | ${(after.cpu - before.cpu).toFixed(1)} s | ${(Math.max(...got.map((a) => a.ms)) / 1000).toFixed(1)} s | ${slowest} ms (${probes}) |\n`,
  );
} finally {
  await stopAll();
}
