// A lab per test file: brought up under a per-run prefix and always taken down,
// with helpers to join what clients did with what backends logged.
import type { TestContext } from 'node:test';
import { execFileSync } from 'node:child_process';
import {
  labDown,
  labUp,
  readBackendLogs,
  type BackendLogLine,
  type ClientResult,
  type Lab,
  type LabConfig,
} from '../../src/lab/lab.js';
import { runPrefix } from './env.js';

export function netnsNames(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** Brings a lab up; labDown runs in t.after even when the test fails. */
export async function startLab(t: TestContext, config?: LabConfig): Promise<Lab> {
  const prefix = runPrefix();
  t.after(() => labDown(prefix));
  return labUp({ prefix, config });
}

/** The backend log line of each client result, matched by the client's own ip:port. */
export async function backendOf(
  lab: Lab,
  results: ClientResult[],
): Promise<Map<ClientResult, BackendLogLine | undefined>> {
  // Clients reuse source ports over many connections, so a result's line is the latest one from its ip:port logged
  // before its answer came (a backend logs a connection before answering). Logs come sorted by time.
  const byPeer = new Map<string, BackendLogLine[]>();
  for (const l of await readBackendLogs(lab)) {
    const key = `${l.proto} ${l.peer}`;
    byPeer.set(key, [...(byPeer.get(key) ?? []), l]);
  }
  return new Map(
    results.map((r) => [
      r,
      byPeer
        .get(`${r.proto} ${r.local}`)
        ?.filter((l) => l.ts <= r.ts)
        .at(-1),
    ]),
  );
}
