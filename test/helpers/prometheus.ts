// A real Prometheus (Debian's binary, not its service) on a free loopback port with a
// generated config and a temporary storage directory, killed by PID in t.after (on
// failure too), and queried through its HTTP API.
import type { TestContext } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inCI } from './env.js';

export interface Prometheus {
  url: string;
  /** Instant query: each series' labels and value. */
  query(expr: string): Promise<{ labels: Record<string, string>; value: number }[]>;
  /** Polls `expr` until `ok` holds for its result; fails with the last result after `timeoutMs`. */
  until(
    expr: string,
    ok: (r: { labels: Record<string, string>; value: number }[]) => boolean,
    timeoutMs?: number,
  ): Promise<{ labels: Record<string, string>; value: number }[]>;
}

/** Whether the binary is installed (scripts/setup.sh installs it); in CI its absence fails. */
export function havePrometheus(t: TestContext): boolean {
  if (spawnSync('prometheus', ['--version']).status === 0) return true;
  if (inCI) throw new Error('prometheus is not installed; scripts/setup.sh installs it');
  t.skip('needs the prometheus binary (bash scripts/setup.sh installs it)');
  return false;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** `targets`: job name -> "host:port" scraped at /metrics every second. */
export async function startPrometheus(t: TestContext, targets: Record<string, string>): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  const jobs = Object.entries(targets).map(
    ([job, target]) =>
      `  - job_name: ${JSON.stringify(job)}\n    static_configs:\n      - targets: [${JSON.stringify(target)}]`,
  );
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n${jobs.join('\n')}\n`);
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
  const exited = new Promise((r) => child.once('exit', r));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGKILL');
        await exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${err}`);
    const ok = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > end) throw new Error(`prometheus was not ready within 30 s: ${err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const query: Prometheus['query'] = async (expr) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success') throw new Error(`prometheus query ${expr} failed: ${body.error}`);
    return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
  };
  return {
    url,
    query,
    async until(expr, ok, timeoutMs = 15_000) {
      const stop = Date.now() + timeoutMs;
      for (;;) {
        const r = await query(expr);
        if (ok(r)) return r;
        if (Date.now() > stop)
          throw new Error(
            `prometheus: ${expr} did not reach the expected value in ${timeoutMs} ms: ${JSON.stringify(r)}`,
          );
        await new Promise((res) => setTimeout(res, 250));
      }
    },
  };
}
