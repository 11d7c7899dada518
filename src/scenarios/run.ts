// Runs one scenario end to end: lab up, scenario servers, one real agent per node, a
// report subscribed to them, the optional TUI, the traffic, the answer; then everything
// torn down in reverse order, on success, failure, Ctrl-C or when the TUI quits.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvironmentError, UsageError } from '../core/errors.js';
import { printableLines } from '../core/text.js';
import { writeTextFile } from '../core/file-errors.js';
import { labDown, labUp, type Lab } from '../lab/lab.js';
import { startApiServer } from '../lab/api-server.js';
import { applyLabObjects } from '../lab/cluster-objects.js';
import { CatalogFeed } from '../k8s/catalog-feed.js';
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

/** What one run holds open, torn down by `teardown` whatever happened. */
interface RunState {
  out: (text: string) => void;
  say: (text: string) => void;
  /** Ends the traffic, the report and the waits: on Ctrl-C, failure, the TUI quitting, or the end. */
  stop: AbortController;
  interrupted: () => boolean;
  onAbort: () => void;
  deferred: (() => Promise<void> | void)[];
  agents: ChildProcess[];
  tui?: ChildProcess;
  /** Progress lines are silenced while the TUI owns the terminal. */
  tuiOpen: boolean;
  labMade: boolean;
}

/** Null when interrupted (Ctrl-C) before the report. */
export async function runScenario<E>(scenario: Scenario<E>, opts: RunScenarioOptions): Promise<ScenarioRun<E> | null> {
  const run = openRun(opts);
  try {
    return await runInLab(scenario, opts, run);
  } finally {
    await teardown(scenario.name, opts, run);
  }
}

function openRun(opts: RunScenarioOptions): RunState {
  const stop = new AbortController();
  setMaxListeners(200, stop.signal); // one listener per client process of the traffic
  const run: RunState = {
    out: opts.out ?? ((t: string) => process.stdout.write(t + '\n')),
    say: (t: string) => {
      if (!run.tuiOpen) (opts.say ?? ((x: string) => process.stderr.write(x + '\n')))(t);
    },
    stop,
    interrupted: () => opts.signal?.aborted === true,
    onAbort: () => stop.abort(),
    deferred: [],
    agents: [],
    tuiOpen: false,
    labMade: false,
  };
  opts.signal?.addEventListener('abort', run.onAbort, { once: true });
  if (run.interrupted()) stop.abort();
  return run;
}

/** The run between the lab's building and its removal. */
async function runInLab<E>(
  scenario: Scenario<E>,
  opts: RunScenarioOptions,
  run: RunState,
): Promise<ScenarioRun<E> | null> {
  const { say, stop } = run;
  if (opts.lateStart && !scenario.lateStart)
    throw new UsageError(`scenario ${scenario.name} has no --late-start (keepalive has)`);
  const { family = 'IPv4', ...setup } = opts.setup ?? { proxyMode: 'iptables' };
  const config = overFamily(scenario.config(setup), family);
  say(`scenario ${scenario.name}: building the lab '${opts.prefix}' (${describeMode(config)}, ${family})`);
  const lab = await labUp({ prefix: opts.prefix, config, signal: stop.signal });
  run.labMade = true;
  const ctx: ScenarioContext = {
    lab,
    signal: stop.signal,
    phaseMs: opts.phaseMs ?? scenario.defaultPhaseMs,
    say,
    defer: (fn) => run.deferred.push(fn),
    lateStart: opts.lateStart === true,
    byteCounters: opts.byteCounters !== false,
  };
  await scenario.prepare?.(ctx);
  const running = await startAgents(lab, (c) => run.agents.push(c), stop.signal);
  const addresses = running.map((a) => a.address);
  const infos = () => Promise.all(running.map((a) => agentInfo(a.address, lab.tls.client, a.node)));
  say(`scenario ${scenario.name}: agents on ${running.map((a) => `${a.node} (${a.address})`).join(', ')}`);

  const api = scenario.api ? await serveApi(lab, run) : undefined;
  const subscribed = await subscribeReport(running, lab, run, api?.catalogs);
  if (!subscribed) return null;
  const { reportText, reportStop } = subscribed;
  // Affinity timeouts and xt_recent lists come from the rules: traffic waits for each agent's catalog,
  // and a little longer for its list watcher's first read (entries it finds there have no known age).
  await waitFor(
    async () => (await infos()).every((i) => i.services > 0),
    AGENTS_UP_MS,
    stop.signal,
    'a catalog from every agent',
  );
  await sleep(LIST_WATCH_MS, undefined, { signal: stop.signal }).catch(() => {});
  run.out(wrap(scenario.lookAt(lab)));
  if (opts.tui) await openTui(addresses, lab, infos, run, api?.kubeconfig);
  const evidence = await scenario.traffic(ctx);
  if (run.interrupted()) {
    reportStop.abort();
    return null;
  }
  const { tui } = run;
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
  run.out(printableLines(lines.join('\n')));
  if (opts.reportFile) say(`scenario ${scenario.name}: JSON report written to ${opts.reportFile}`);
  return { report, evidence, lines };
}

/**
 * Subscribes a JSON report to every agent and waits until all are up. Null when interrupted first;
 * `reportStop` ends the report, whose text `reportText` then gives.
 */
async function subscribeReport(
  running: RunningAgent[],
  lab: Lab,
  run: RunState,
  catalogs?: CatalogFeed,
): Promise<{ reportText: Promise<string>; reportStop: AbortController } | null> {
  const addresses = running.map((a) => a.address);
  const reportStop = new AbortController();
  const up = new Set<string>();
  let allUp!: () => void;
  const agentsUp = new Promise<void>((r) => (allUp = r));
  const reportText = reportFromAgents(addresses, {
    format: 'json',
    durationMs: 24 * 3600_000,
    // Also ended when the run fails (a client's request in traffic() failing): its subscriptions and its timer
    // would otherwise hold the process open for good.
    signal: AbortSignal.any([reportStop.signal, run.stop.signal]),
    tls: lab.tls.client,
    nodes: Object.fromEntries(running.map((a) => [a.address, a.node])),
    ...(catalogs ? { catalogs } : {}),
    onStatus: (s) => {
      if (s.state === 'up') up.add(s.address);
      if (up.size === addresses.length) allUp();
    },
  });
  reportText.catch(() => {}); // awaited by the caller; a failure before then must not go unhandled
  // The deadline's timer ends with the race, or it would hold the process open after a short run.
  const deadline = new AbortController();
  try {
    await Promise.race([
      agentsUp,
      reportText.then(() => {
        throw new EnvironmentError('the report ended before the agents were up');
      }),
      sleep(AGENTS_UP_MS, undefined, { signal: AbortSignal.any([run.stop.signal, deadline.signal]) }).then(() => {
        throw new EnvironmentError(
          `failed to subscribe to the agents (${addresses.join(', ')}): not all up after ${AGENTS_UP_MS / 1000} s`,
        );
      }),
    ]);
  } catch (err) {
    reportStop.abort();
    if (run.interrupted()) return null;
    throw err;
  } finally {
    deadline.abort();
  }
  return { reportText, reportStop };
}

/** Opens the TUI in this terminal; quitting it ends the run. Returns once it subscribed to every agent. */
async function openTui(
  addresses: string[],
  lab: Lab,
  infos: () => Promise<{ subscribers: number }[]>,
  run: RunState,
  kubeconfig?: string,
): Promise<void> {
  const k8s = kubeconfig ? ['--k8s', '--kubeconfig', kubeconfig] : [];
  const tui = spawn(
    process.execPath,
    [stickyscopeBin, 'tui', ...addresses.flatMap((a) => ['--agent', a]), ...lab.tls.clientArgs(), ...k8s],
    { stdio: 'inherit' },
  );
  run.tui = tui;
  run.tuiOpen = true;
  void exited(tui).then(() => {
    run.tuiOpen = false;
    run.stop.abort();
  });
  // The agents replay nothing: traffic waits until the TUI (beside the report) subscribed.
  await waitFor(
    async () => (await infos()).every((i) => i.subscribers >= 2),
    AGENTS_UP_MS,
    run.stop.signal,
    'the TUI to subscribe to the agents',
  );
}

/** The lab served as a cluster's API (src/lab/api-server.ts) and its catalogs read back as `--k8s` reads them. */
async function serveApi(lab: Lab, run: RunState): Promise<{ kubeconfig: string; catalogs: CatalogFeed }> {
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-api-`));
  const server = await startApiServer({ dir });
  run.deferred.push(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  applyLabObjects(server, lab);
  // Loaded only here: the API client is heavy, and only scenarios with `api` need it.
  const { loadKubeConfig } = await import('../k8s/kube-config.js');
  const { watchMetadata } = await import('../k8s/metadata.js');
  const catalogs = new CatalogFeed();
  await watchMetadata({
    kubeConfig: loadKubeConfig(server.kubeconfig),
    signal: run.stop.signal,
    onCatalog: (e) => catalogs.push(e),
  });
  return { kubeconfig: server.kubeconfig, catalogs };
}

/** Stops the TUI, the agents, the scenario's own servers (in reverse order), then removes the lab. */
async function teardown(name: string, opts: RunScenarioOptions, run: RunState): Promise<void> {
  opts.signal?.removeEventListener('abort', run.onAbort);
  run.stop.abort();
  if (run.tui) await stopChild(run.tui);
  run.tuiOpen = false;
  await Promise.all(run.agents.map((a) => stopChild(a)));
  for (const fn of run.deferred.reverse()) await fn();
  if (run.labMade) {
    run.say(`scenario ${name}: removing the lab '${opts.prefix}'`);
    await labDown(opts.prefix);
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
