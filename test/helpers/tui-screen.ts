// Reading the live TUI in tmux against the backends' logs: the detail view of one Service, and its backend rows
// compared with what the backends themselves logged.
import type { BackendLogLine } from '../../src/lab/lab.js';
import type { Tmux } from './tmux.js';
import { waitFor, NotYet } from './wait.js';

export const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
export const hostOf = (addr: string) => addr.slice(0, addr.lastIndexOf(':'));

/** Selections per backend address ("ip:port" the backend was reached at) for the given client IPs. */
export function countsFor(logs: BackendLogLine[], clientIPs: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of logs)
    if (l.proto === 'tcp' && clientIPs.includes(hostOf(l.peer))) out.set(l.local, (out.get(l.local) ?? 0) + 1);
  return out;
}

/** Opens one service's detail through the filter, from the services list; one key at a time, each seen on screen. */
export async function openDetail(term: Tmux, filter: string, name: string): Promise<void> {
  term.sendKeys('/');
  await term.waitForText('Enter keeps, Esc clears');
  term.sendKeys(filter, true);
  await term.waitForText(`filter /${filter}`);
  term.sendKeys('Enter');
  await term.waitForText(`filter: '${filter}'`);
  term.sendKeys('Enter');
  await term.waitForText(new RegExp(`^ ${esc(name)} `, 'm'));
}

/**
 * Waits until the detail's backend rows show exactly `counts` (the aggregator may still be a frame behind), each
 * beside its pod's name when `pods` gives one ("-" otherwise: no pod names without --k8s or --pods).
 */
export async function expectBackendRows(
  term: Tmux,
  counts: Map<string, number>,
  endpoints: string[],
  opts: { pods?: Map<string, string>; timeoutMs?: number } = {},
): Promise<string> {
  const rows = endpoints.map(
    // LIVE, BYTES/S and OLDEST follow the selections where the agent reads the conntrack table (it does by default).
    (e) =>
      new RegExp(
        `^[ ›] ${esc(e)}\\s+${esc(opts.pods?.get(e) ?? '-')}\\s+.*\\s\\d+%\\s+${counts.get(e) ?? 0}(\\s+\\d+\\s+\\S+\\s+\\S+)?\\s*$`,
        'm',
      ),
  );
  return waitFor(
    `the backend rows to show ${JSON.stringify([...counts])} (from the backends' logs)`,
    () => {
      const screen = term.capture();
      return rows.every((r) => r.test(screen)) ? screen : new NotYet(`the screen:\n${screen}`, rows.map(String));
    },
    opts.timeoutMs ?? 8000,
    100,
  );
}
