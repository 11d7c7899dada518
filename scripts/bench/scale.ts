// `npm run bench:scale`: one `serve` against N simulated agents (scale-sim.ts: the real gRPC
// protocol over mutual TLS, each node at --rate new connections/s), raw streams against
// summaries, for each N: what serve takes per second, its CPU (from /proc, as its rusage)
// and RSS, how stale /metrics is (a marker selection made on one node, until /metrics
// shows it), and whether it keeps up. Prints a Markdown table. Every process it starts is
// stopped by PID at the end, on failure and on Ctrl-C too.
// Usage: node dist/scripts/bench/scale.js [--nodes 100,300,1000] [--modes summary,raw] [--seconds 20]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { caPem, makeAgentCert, makeCa, makeClientCert } from '../../src/certs/make-certs.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100,300,1000' },
    modes: { type: 'string', default: 'summary,raw' },
    seconds: { type: 'string', default: '20' },
    rate: { type: 'string', default: '2000' },
    services: { type: 'string', default: '20' },
    backends: { type: 'string', default: '4' },
    clients: { type: 'string', default: '500' },
  },
});
const sizes = values.nodes.split(',').map(Number);
const modes = values.modes.split(',') as ('summary' | 'raw')[];
const seconds = Number(values.seconds);
const rate = Number(values.rate);
if (sizes.some((n) => !(n >= 1 && n <= 5000)) || !(seconds >= 5) || !(rate > 0))
  throw new Error(
    `bench scale: --nodes expects 1..5000 each, --seconds >= 5, --rate > 0; got ${JSON.stringify(values)}`,
  );
for (const m of modes)
  if (m !== 'summary' && m !== 'raw') throw new Error(`bench scale: unknown mode '${m}'; expected summary or raw`);

const root = fileURLToPath(new URL('../../../', import.meta.url));
const log = (line: string) => process.stderr.write(`bench scale: ${line}\n`);
const dir = mkdtempSync(join(tmpdir(), 'stickyscope-scale-'));
const children = new Set<ChildProcess>();
/** How long a marker may take to show in /metrics before it counts as never. */
const MARKER_TIMEOUT_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stopAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    stopAll();
    process.exitCode = 130;
    process.kill(process.pid, sig);
  });

function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** CPU seconds (user + system) and RSS bytes of a process, from /proc. */
function usage(pid: number): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpu: (Number(f[11]) + Number(f[12])) / 100, rss: rssKb * 1024 };
}

async function certs(max: number): Promise<void> {
  const ca = await makeCa('stickyscope scale bench CA');
  const put = (name: string, p: { cert: string; key: string }) => {
    writeFileSync(join(dir, `${name}.crt`), p.cert);
    writeFileSync(join(dir, `${name}.key`), p.key, { mode: 0o600 });
  };
  put('ca', await caPem(ca));
  put('client', await makeClientCert(ca, 'client'));
  for (let i = 0; i < max; i++) put(`sim-${i}`, await makeAgentCert(ca, `sim-${i}`));
}

interface Sim {
  child: ChildProcess;
  ports: number[];
  first: number;
  stats(): Promise<{ offered: number; dropped: number; cpu: { user: number; system: number } }>;
  send(line: string): void;
}

async function startSim(mode: string, first: number, count: number): Promise<Sim> {
  const nodes = Array.from({ length: count }, (_, i) => `sim-${first + i}`);
  const opts = {
    nodes,
    certDir: dir,
    mode,
    rate,
    services: Number(values.services),
    backends: Number(values.backends),
    clients: Number(values.clients),
    periodMs: 2000,
  };
  const child = track(
    spawn(process.execPath, [join(root, 'dist/scripts/bench/scale-sim.js'), JSON.stringify(opts)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((l: string) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const next = () =>
    new Promise<string>((resolve, reject) => {
      waiting.push(resolve);
      child.once('exit', (code) => reject(new Error(`the simulator exited (${code})`)));
    });
  const { ports } = JSON.parse(await next()) as { ports: number[] };
  return {
    child,
    ports,
    first,
    send: (l) => child.stdin!.write(`${l}\n`),
    async stats() {
      const p = next();
      child.stdin!.write('stats\n');
      return JSON.parse(await p);
    },
  };
}

/** serve's /metrics; a refused or reset scrape is tried again (a busy serve may drop one), up to 30 s. */
async function metrics(url: string): Promise<string> {
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/metrics`);
      return await res.text();
    } catch (err) {
      if (Date.now() > end) throw new Error(`serve's /metrics failed for 30 s: ${(err as Error).message}`);
      await sleep(500);
    }
  }
}
const sum = (text: string, name: string) =>
  [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);

interface Row {
  mode: string;
  nodes: number;
  offered: number;
  taken: number;
  takenUnit: string;
  selectionsCovered: number;
  cpu: number;
  simCpu: number;
  rss: number;
  upSeconds: number;
  staleness: number[];
  verdict: string;
}

async function scenario(mode: 'summary' | 'raw', n: number): Promise<Row> {
  const perSim = n > 300 ? Math.ceil(n / 2) : n;
  const sims: Sim[] = [];
  for (let first = 0; first < n; first += perSim) sims.push(await startSim(mode, first, Math.min(perSim, n - first)));
  const agents = sims.flatMap((s) => s.ports.map((p) => `127.0.0.1:${p}`));
  const ready = join(dir, `serve-${mode}-${n}.ready`);
  const serve = track(
    spawn(
      process.execPath,
      [
        join(root, 'bin/stickyscope.js'),
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--ready-file',
        ready,
        '--window',
        '1m',
        ...(mode === 'summary' ? ['--summaries'] : []),
        ...[
          '--tls-ca',
          join(dir, 'ca.crt'),
          '--tls-cert',
          join(dir, 'client.crt'),
          '--tls-key',
          join(dir, 'client.key'),
        ],
        ...agents.flatMap((a) => ['--agent', a]),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  let err = '';
  serve.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
  serve.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') log(`serve exited (${code ?? signal}): ${err.slice(-600)}`);
  });
  try {
    const t0 = Date.now();
    while (!existsSync(ready)) {
      if (serve.exitCode !== null) throw new Error(`serve exited: ${err}`);
      await sleep(50);
    }
    const url = `http://${readFileSync(ready, 'utf8').trim()}`;
    for (;;) {
      const up = sum(await metrics(url), 'stickyscope_agent_up');
      if (up >= n) break;
      if (Date.now() - t0 > 180_000) throw new Error(`only ${up} of ${n} agents up after 180 s: ${err}`);
      await sleep(500);
    }
    const upSeconds = (Date.now() - t0) / 1000;
    log(`${mode} ${n}: all agents up in ${upSeconds.toFixed(1)} s; warming up`);
    await sleep(5000);
    const takenName = mode === 'raw' ? 'stickyscope_events_total' : 'stickyscope_summaries_total';
    const m0 = await metrics(url);
    const u0 = usage(serve.pid!);
    const s0 = await Promise.all(sims.map((s) => s.stats()));
    const w0 = Date.now();
    await sleep(seconds * 1000);
    const m1 = await metrics(url);
    const u1 = usage(serve.pid!);
    const s1 = await Promise.all(sims.map((s) => s.stats()));
    const wall = (Date.now() - w0) / 1000;
    const offered = s1.reduce((a, s, i) => a + s.offered - s0[i]!.offered, 0) / wall;
    const taken = (sum(m1, takenName) - sum(m0, takenName)) / wall;
    const covered =
      (sum(m1, 'stickyscope_service_selections_total') - sum(m0, 'stickyscope_service_selections_total')) / wall;
    const cpu = (u1.cpu - u0.cpu) / wall;
    const cpuOf = (x: { cpu: { user: number; system: number } }) => (x.cpu.user + x.cpu.system) / 1e6;
    const simCpu = s1.reduce((a, s, i) => a + cpuOf(s) - cpuOf(s0[i]!), 0) / wall;
    // Staleness: a marker selection on one node, until /metrics shows its backend.
    const staleness: number[] = [];
    for (let k = 0; k < 4; k++) {
      const id = 1 + k + n;
      const node = (k * 7919) % n;
      const sim = sims.find((s) => node >= s.first && node < s.first + s.ports.length)!;
      const sent = Date.now();
      sim.send(`marker ${node - sim.first} ${id}`);
      const label = `backend="10.250.${(id >> 8) & 255}.${id & 255}:80"`;
      let seen = false;
      while (Date.now() - sent < MARKER_TIMEOUT_MS) {
        if ((await metrics(url)).includes(label)) {
          seen = true;
          break;
        }
        await sleep(100);
      }
      staleness.push(seen ? (Date.now() - sent) / 1000 : Number.POSITIVE_INFINITY);
      log(
        `marker ${id} on sim-${node}: sent at ${sent % 100000} ms, ${seen ? `in /metrics at ${Date.now() % 100000} ms` : `not in /metrics after ${MARKER_TIMEOUT_MS / 1000} s`}`,
      );
      await sleep(700 + ((k * 531) % 1300));
    }
    const rss = usage(serve.pid!).rss;
    const downs = err.match(/ down: .*/g) ?? [];
    log(
      `serve said ${downs.length} agent(s) down in the last 2000 characters of its stderr${downs.length ? `; last: ${downs.at(-1)!.slice(0, 200)}` : ''}`,
    );
    const keeps = covered >= 0.95 * offered && staleness.every((s) => s <= 5) && cpu < 0.95 * cpus().length;
    const row: Row = {
      mode,
      nodes: n,
      offered,
      taken,
      takenUnit: mode === 'raw' ? 'events/s' : 'summaries/s',
      selectionsCovered: covered,
      cpu,
      simCpu,
      rss,
      upSeconds,
      staleness,
      verdict: keeps ? 'keeps up' : covered < 0.95 * offered ? 'falls behind' : 'stale',
    };
    log(JSON.stringify(row));
    return row;
  } finally {
    serve.kill('SIGTERM');
    await Promise.race([new Promise((r) => serve.once('exit', r)), sleep(10_000)]);
    if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGKILL');
    for (const s of sims) {
      s.child.stdin!.end();
      await Promise.race([new Promise((r) => s.child.once('exit', r)), sleep(5000)]);
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    }
  }
}

function failedRow(mode: string, nodes: number, why: string): Row {
  return {
    mode,
    nodes,
    offered: 0,
    taken: 0,
    takenUnit: '',
    selectionsCovered: 0,
    cpu: 0,
    simCpu: 0,
    rss: 0,
    upSeconds: 0,
    staleness: [],
    verdict: `failed: ${why.replace(/\s+/g, ' ').slice(0, 120)}`,
  };
}

const fmt = (x: number) =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(0)} k` : x.toFixed(0);
try {
  log(`making ${Math.max(...sizes)} node certificates in ${dir}`);
  await certs(Math.max(...sizes));
  const rows: Row[] = [];
  for (const n of sizes)
    for (const mode of modes)
      rows.push(
        await scenario(mode, n).catch((err: Error) => {
          log(`${mode} ${n}: ${err.message}`);
          return failedRow(mode, n, err.message);
        }),
      );
  const out = [
    `| nodes | mode | selections/s offered | serve takes | selections/s in /metrics | serve CPU (cores) | simulator CPU (cores) | serve RSS | /metrics staleness (s, 4 markers) | all up in | verdict |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.nodes} | ${r.mode} | ${fmt(r.offered)} | ${fmt(r.taken)} ${r.takenUnit} | ${fmt(r.selectionsCovered)} | ${r.cpu.toFixed(2)} | ${r.simCpu.toFixed(2)} | ${(r.rss / 2 ** 20).toFixed(0)} MiB | ${r.staleness.map((s) => (Number.isFinite(s) ? s.toFixed(1) : `>${MARKER_TIMEOUT_MS / 1000}`)).join(', ')} | ${r.upSeconds.toFixed(0)} s | ${r.verdict} |`,
    ),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  stopAll();
}
