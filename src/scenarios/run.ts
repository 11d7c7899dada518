// Runs one scenario end to end: lab up, scenario servers, one real agent per node, a
// report subscribed to them, the optional TUI, the traffic, the answer; then everything
// torn down in reverse order, on success, failure, Ctrl-C or when the TUI quits.
import { spawn, type ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvironmentError, UsageError } from '../core/errors.js';
import { printableLines } from '../core/text.js';
import { writeTextFile } from '../core/file-errors.js';
import { labDown, labUp } from '../lab/lab.js';
import { describeMode } from '../lab/config.js';
import { overFamily } from './family.js';
import { reportFromAgents } from '../report/from-file.js';
import type { Report } from '../report/types.js';
import { agentInfo, exited, startAgents, stickyscopeBin, stopChild, type RunningAgent } from './agents.js';
import type { Scenario, ScenarioContext, ScenarioSetup } from './types.js';

export interface RunScenarioOptions {
  prefix: string;
  /** kube-proxy's mode on the lab's nodes (default iptables) and the traffic's family (default IPv4). */
  setup?: ScenarioSetup;
  /** Length of one traffic phase (default: the scenario's). */
  phaseMs?: number;
  /** Start the agents after the scenario's long-lived connections are open (scenarios with `lateStart` only). */
  lateStart?: boolean;
  /** nf_conntrack_acct on the node for the scenario's connections (default true; false: bytes unavailable). */
  byteCounters?: boolean;
  /** Writes the JSON report here. */
  reportFile?: string;
  /** Opens the TUI on the agents in this terminal; quitting it (q) ends the run. */
  tui?: boolean;
  /** Ctrl-C: stops the traffic and tears down without a report. */
  signal?: AbortSignal;
  /** The paragraph and the answer (stdout). */
  out?: (text: string) => void;
  /** Progress lines (stderr); silenced while the TUI owns the terminal. */
  say?: (text: string) => void;
}

export interface ScenarioRun<E> {
  report: Report;
  /** The ground truth the scenario gathered before teardown. */
  evidence: E;
  /** The answer lines printed. */
  lines: string[];
}

/** Time for the last events to travel probe -> agent -> merge before the report is taken. */
const SETTLE_MS = 1500;
const AGENTS_UP_MS = 15_000;
/** Two polls of the agent's xt_recent watcher (every 250 ms). */
const LIST_WATCH_MS = 600;

/** Null when interrupted (Ctrl-C) before the report. */
export async function runScenario<E>(scenario: Scenario<E>, opts: RunScenarioOptions): Promise<ScenarioRun<E> | null> {
  const out = opts.out ?? ((t: string) => process.stdout.write(t + '\n'));
  let tuiOpen = false;
  const say = (t: string) => {
    if (!tuiOpen) (opts.say ?? ((x: string) => process.stderr.write(x + '\n')))(t);
  };
  const stop = new AbortController();
  setMaxListeners(200, stop.signal); // one listener per client process of the traffic
  const interrupted = () => opts.signal?.aborted === true;
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (interrupted()) stop.abort();
  const deferred: (() => Promise<void> | void)[] = [];
  const agents: ChildProcess[] = [];
  let tui: ChildProcess | undefined;
  let labMade = false;
  try {
    if (opts.lateStart && !scenario.lateStart)
      throw new UsageError(`scenario ${scenario.name} has no --late-start (keepalive has)`);
    const { family = 'IPv4', ...setup } = opts.setup ?? { proxyMode: 'iptables' };
    const config = overFamily(scenario.config(setup), family);
    say(`scenario ${scenario.name}: building the lab '${opts.prefix}' (${describeMode(config)}, ${family})`);
    const lab = await labUp({ prefix: opts.prefix, config, signal: stop.signal });
    labMade = true;
    const ctx: ScenarioContext = {
      lab,
      signal: stop.signal,
      phaseMs: opts.phaseMs ?? scenario.defaultPhaseMs,
      say,
      defer: (fn) => deferred.push(fn),
      lateStart: opts.lateStart === true,
      byteCounters: opts.byteCounters !== false,
    };
    await scenario.prepare?.(ctx);
    const running = await startAgents(lab, (c) => agents.push(c), stop.signal);
    const addresses = running.map((a) => a.address);
    const nodes = Object.fromEntries(running.map((a) => [a.address, a.node]));
    const infos = () => Promise.all(running.map((a) => agentInfo(a.address, lab.tls.client, a.node)));
    say(`scenario ${scenario.name}: agents on ${running.map((a) => `${a.node} (${a.address})`).join(', ')}`);

    const reportStop = new AbortController();
    const up = new Set<string>();
    let allUp!: () => void;
    const agentsUp = new Promise<void>((r) => (allUp = r));
    const reportText = reportFromAgents(addresses, {
      format: 'json',
      durationMs: 24 * 3600_000,
      // Also ended when the run fails (a client's request in traffic() failing): its subscriptions and its timer
      // would otherwise hold the process open for good.
      signal: AbortSignal.any([reportStop.signal, stop.signal]),
      tls: lab.tls.client,
      nodes,
      onStatus: (s) => {
        if (s.state === 'up') up.add(s.address);
        if (up.size === addresses.length) allUp();
      },
    });
    reportText.catch(() => {}); // awaited below; a failure before then must not go unhandled
    // The deadline's timer ends with the race, or it would hold the process open after a short run.
    const deadline = new AbortController();
    try {
      await Promise.race([
        agentsUp,
        reportText.then(() => {
          throw new EnvironmentError('the report ended before the agents were up');
        }),
        sleep(AGENTS_UP_MS, undefined, { signal: AbortSignal.any([stop.signal, deadline.signal]) }).then(() => {
          throw new EnvironmentError(
            `failed to subscribe to the agents (${addresses.join(', ')}): not all up after ${AGENTS_UP_MS / 1000} s`,
          );
        }),
      ]);
    } catch (err) {
      reportStop.abort();
      if (interrupted()) return null;
      throw err;
    } finally {
      deadline.abort();
    }

    // Affinity timeouts and xt_recent lists come from the rules: traffic waits for each agent's catalog,
    // and a little longer for its list watcher's first read (entries it finds there have no known age).
    await waitFor(
      async () => (await infos()).every((i) => i.services > 0),
      AGENTS_UP_MS,
      stop.signal,
      'a catalog from every agent',
    );
    await sleep(LIST_WATCH_MS, undefined, { signal: stop.signal }).catch(() => {});
    out(wrap(scenario.lookAt(lab)));
    if (opts.tui) {
      tui = spawn(
        process.execPath,
        [stickyscopeBin, 'tui', ...addresses.flatMap((a) => ['--agent', a]), ...lab.tls.clientArgs()],
        { stdio: 'inherit' },
      );
      tuiOpen = true;
      void exited(tui).then(() => {
        tuiOpen = false;
        stop.abort();
      });
      // The agents replay nothing: traffic waits until the TUI (beside the report) subscribed.
      await waitFor(
        async () => (await infos()).every((i) => i.subscribers >= 2),
        AGENTS_UP_MS,
        stop.signal,
        'the TUI to subscribe to the agents',
      );
    }
    const evidence = await scenario.traffic(ctx);
    if (interrupted()) {
      reportStop.abort();
      return null;
    }
    if (tui && tui.exitCode !== null && tui.exitCode !== 0) {
      reportStop.abort();
      throw new EnvironmentError(
        `the TUI exited with code ${tui.exitCode} (its error is above); the traffic was stopped`,
      );
    }
    await sleep(SETTLE_MS);
    reportStop.abort();
    const text = await reportText;
    if (opts.reportFile) await writeTextFile(opts.reportFile, text, 'write the report to');
    const report = JSON.parse(text) as Report;
    const lines = [...scenario.answer(report, evidence, lab), ...gaps(report, running)];
    if (tui) await exited(tui);
    // Report figures carry names and addresses from the events, and gaps() an agent's stderr.
    out(printableLines(lines.join('\n')));
    if (opts.reportFile) say(`scenario ${scenario.name}: JSON report written to ${opts.reportFile}`);
    return { report, evidence, lines };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    stop.abort();
    if (tui) await stopChild(tui);
    tuiOpen = false;
    await Promise.all(agents.map((a) => stopChild(a)));
    for (const fn of deferred.reverse()) await fn();
    if (labMade) {
      say(`scenario ${scenario.name}: removing the lab '${opts.prefix}'`);
      await labDown(opts.prefix);
    }
  }
}

/** Warnings for figures a missing node leaves incomplete. */
function gaps(report: Report, agents: RunningAgent[]): string[] {
  const out = report.window.missing.map(
    (m) => `Warning: ${m.node} was not reporting from ${m.start} to ${m.end}: the figures above miss its selections.`,
  );
  for (const a of agents) {
    if (a.child.exitCode !== null || a.child.signalCode !== null)
      out.push(
        `Warning: the agent for ${a.node} exited (${a.child.exitCode ?? a.child.signalCode}) during the run: ${a.stderr().trim().split('\n').slice(-3).join(' | ') || 'no output'}`,
      );
  }
  return out;
}

/** Polls `cond` until it holds, `timeoutMs` passes or `signal` fires. */
async function waitFor(
  cond: () => Promise<boolean>,
  timeoutMs: number,
  signal: AbortSignal,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!signal.aborted && !(await cond())) {
    if (Date.now() > end) throw new EnvironmentError(`failed to see ${what} within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** One paragraph, wrapped at 88 columns. */
function wrap(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > 88) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  return [...lines, line].join('\n');
}
