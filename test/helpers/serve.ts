// A real `stickyscope serve` child process for tests: started with a ready file, its HTTP
// endpoints fetched by path, stopped (SIGTERM, then SIGKILL) in t.after, on failure too.
import type { TestContext } from 'node:test';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli, type CliRun } from './cli.js';
import { waitFor, NotYet } from './wait.js';

export interface ServeRun {
  run: CliRun;
  /** "http://127.0.0.1:port" */
  url: string;
  get(path: string): Promise<{ status: number; headers: Headers; text: string }>;
  /** SIGTERM and the exit it led to, with how long it took. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export async function startServe(t: TestContext, args: string[]): Promise<ServeRun> {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-serve-'));
  const readyFile = join(dir, 'ready');
  const run = startCli(['serve', '--listen', '127.0.0.1:0', '--ready-file', readyFile, ...args]);
  t.after(async () => {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGKILL');
      await run.exit;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(
    'serve to write its ready file',
    () => {
      if (run.child.exitCode !== null) throw new Error(`serve exited (${run.child.exitCode}): ${run.stderr()}`);
      return existsSync(readyFile) || new NotYet(`stderr: ${run.stderr()}`, readyFile);
    },
    15_000,
    25,
  );
  const url = `http://${readFileSync(readyFile, 'utf8').trim()}`;
  return {
    run,
    url,
    async get(path) {
      const res = await fetch(url + path);
      return { status: res.status, headers: res.headers, text: await res.text() };
    },
    async stop() {
      const t0 = Date.now();
      run.child.kill('SIGTERM');
      const r = await run.exit;
      return { ...r, ms: Date.now() - t0 };
    },
  };
}

/** The value of one series in a Prometheus text exposition, undefined when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}
