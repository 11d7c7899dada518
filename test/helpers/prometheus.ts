// A real Prometheus (Debian's binary, not its service) on a free loopback port with a
// generated config and a temporary storage directory, killed by PID in t.after (on
// failure too), and queried through its HTTP API.
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools } from './env.js';
import { waitFor, NotYet } from './wait.js';

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
export const havePrometheus = (t: TestContext): boolean => requireTools(t, 'prometheus');

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
  await waitFor(
    'prometheus to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${err}`);
      return fetch(`${url}/-/ready`).then(
        (r) => r.ok || new NotYet(`HTTP ${r.status}; stderr: ${err}`, 'HTTP 200'),
        (e: Error) => new NotYet(`${e.message}; stderr: ${err}`, 'HTTP 200'),
      );
    },
    30_000,
    200,
  );
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
    until: (expr, ok, timeoutMs = 15_000) =>
      waitFor(
        `prometheus: ${expr} to hold ${ok.toString()}`,
        async () => {
          const r = await query(expr);
          return ok(r) ? r : new NotYet(r, ok.toString());
        },
        timeoutMs,
        250,
      ),
  };
}
