// Real `stickyscope agent` processes, one per lab node namespace, started through the CLI as a user would, serving
// mutual TLS with the lab's certificates (plaintext only when asked). Each is known by its PID only: kill() and restart()
// act on that PID, and every agent still running is stopped in t.after, on failure too.
import type { TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labUp, type Lab, type LabConfig } from '../../src/lab/lab.js';
import { runPrefix } from './env.js';
import type { Report } from '../../src/report/types.js';
import { cliPath, startCli } from './cli.js';
import type { AgentLink } from '../../src/protocol/agent-connection.js';
import { subscribeAgents } from '../../src/protocol/client.js';
import type { ServiceInfo, StickyEvent } from '../../src/core/event.js';
import type { ClientTls } from '../../src/protocol/tls.js';
import { atLeast, equals, NotYet, waitFor } from './wait.js';

interface LabAgent {
  /** Node index in the lab. */
  index: number;
  /** Node name the agent writes into its events (the node's netns name). */
  node: string;
  netnsPath: string;
  /** Bound "127.0.0.1:port", from the ready file. */
  address: string;
  pid: number;
  /** With `metrics`: the bound "127.0.0.1:port" of its /metrics, from its start line. */
  metrics?: string;
  /** Pids of its children (the probe helper) when it was last seen ready. */
  helpers: number[];
  readyFile: string;
  stderr(): string;
}

export interface LabAgents {
  agents: LabAgent[];
  addresses(): string[];
  /** The client side of the agents' link (undefined when they serve plaintext). */
  tls: ClientTls | undefined;
  /** The client TLS flags for a CLI child: --tls-ca ... (none for plaintext). */
  clientArgs(): string[];
  /** What an AgentConnection to agent i needs: the client TLS and the node its certificate names. */
  link(i: number): AgentLink;
  /** SIGKILL by pid; resolves once the agent and its probe helper are gone. */
  kill(i: number): Promise<void>;
  /** Starts node i's agent again on the port it had. */
  restart(i: number): Promise<void>;
  stopAll(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

export interface StartAgentsOptions {
  /** Plaintext gRPC instead of the lab's mutual TLS. */
  plaintext?: boolean;
  /** Serve /metrics too (agent --metrics 127.0.0.1:0). */
  metrics?: boolean;
  /** Name the lab's pods in the catalogs (agent --pods, the lab's pods.json), as --k8s would. */
  pods?: boolean;
  /** Listen address by node index (default 127.0.0.1:0), for a test that names an agent before it starts. */
  listen?: Record<number, string>;
  /** More flags for every agent (e.g. --conntrack-sweep 1s). */
  args?: string[];
}

/** Starts one agent per lab node (all when `nodes` is absent) and waits for their ready files. */
export async function startAgents(
  t: TestContext,
  lab: Lab,
  nodes?: number[],
  opts: StartAgentsOptions = {},
): Promise<LabAgents> {
  const tls = opts.plaintext ? undefined : lab.tls;
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-agents-`));
  const procs = new Map<number, ChildProcess>();
  const agents: LabAgent[] = [];

  async function launch(index: number, listen: string): Promise<LabAgent> {
    const readyFile = join(dir, `agent-${index}.ready`);
    const node = lab.nodes[index]!;
    const netnsPath = lab.nodeNetnsPath(index);
    const child = spawn(
      process.execPath,
      [
        cliPath,
        'agent',
        '--netns',
        netnsPath,
        '--listen',
        listen,
        '--node-name',
        node,
        '--ready-file',
        readyFile,
        ...(tls?.agentArgs(index) ?? []),
        ...(opts.metrics ? ['--metrics', '127.0.0.1:0'] : []),
        ...(opts.pods ? ['--pods', lab.podsFile] : []),
        ...(opts.args ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    if (child.pid === undefined) throw new Error(`failed to start the agent for ${node}: no pid`);
    procs.set(child.pid, child);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    // With metrics, its start line (written just after the ready file) says where they are.
    await waitFor(
      `the agent for ${node} to be ready`,
      () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(
            `agent for ${node} exited (${child.exitCode ?? child.signalCode}) before it was ready: ${err.trim()}`,
          );
        const ready = existsSync(readyFile) && (!opts.metrics || /metrics on http/.test(err));
        return (
          ready ||
          new NotYet(`stderr: ${err.trim()}`, opts.metrics ? 'the ready file and its metrics line' : 'the ready file')
        );
      },
      READY_TIMEOUT_MS,
      25,
    );
    const address = readFileSync(readyFile, 'utf8').trim();
    const metrics = /metrics on http:\/\/(\S+)\/metrics/.exec(err)?.[1];
    if (opts.metrics && !metrics) throw new Error(`agent for ${node} did not say where its metrics are: ${err.trim()}`);
    return {
      metrics,
      index,
      node,
      netnsPath,
      address,
      pid: child.pid,
      helpers: childrenOf(child.pid),
      readyFile,
      stderr: () => err,
    };
  }

  async function stop(pid: number, signal: NodeJS.Signals): Promise<void> {
    const child = procs.get(pid);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const helpers = childrenOf(pid);
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(pid, signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGKILL');
      await exited;
    }
    // The helper exits when its stdin (our agent) goes away; wait, so its BPF links are gone too.
    await waitFor(
      'the probe helpers to exit',
      () => !helpers.some(alive) || new NotYet(helpers.filter(alive), []),
      5000,
    ).catch(() => {
      for (const h of helpers.filter(alive)) process.kill(h, 'SIGKILL');
    });
  }

  const set: LabAgents = {
    agents,
    addresses: () => agents.map((a) => a.address),
    tls: tls?.client,
    clientArgs: () => tls?.clientArgs() ?? [],
    link: (i) => ({ tls: tls?.client, node: agents[i]!.node }),
    async kill(i) {
      await stop(agents[i]!.pid, 'SIGKILL');
    },
    async restart(i) {
      const old = agents[i]!;
      // A SIGKILLed agent leaves its ready file behind; the new one must write its own.
      rmSync(old.readyFile, { force: true });
      agents[i] = await launch(old.index, old.address);
    },
    async stopAll() {
      await Promise.all([...procs.keys()].map((pid) => stop(pid, 'SIGTERM')));
    },
  };
  t.after(async () => {
    await set.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const i of nodes ?? lab.nodes.map((_, k) => k)) agents.push(await launch(i, opts.listen?.[i] ?? '127.0.0.1:0'));
  return set;
}

/**
 * A second subscriber to the agents, in this process, beside a CLI that subscribes to them (report, record): the
 * agents send each event to every subscriber at once, and the CLIs write on SIGINT what they have received, so once
 * this one has the events the ground truth says were made, the CLI has them too.
 */
export interface AgentsWatch {
  /** Waits until the agents have sent `n` dnat events since the watch began (`n`: from the backends' logs). */
  waitForDnat(n: number, timeoutMs?: number): Promise<void>;
  /** Waits until every agent's latest catalog satisfies `check` (after a rules change: the agents re-read them). */
  waitForCatalog(what: string, check: (services: ServiceInfo[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Every event received so far, for checks of other kinds (evictions, affinity sets). */
  events(): readonly StickyEvent[];
  stop(): Promise<void>;
}

/** Subscribes to every agent of `set`; resolves once each is up. Stopped in t.after if not before. */
export async function watchAgents(t: TestContext, set: LabAgents): Promise<AgentsWatch> {
  const stop = new AbortController();
  t.after(() => stop.abort());
  let dnat = 0;
  const all: StickyEvent[] = [];
  const up = new Set<string>();
  const catalogs = new Map<string, ServiceInfo[]>();
  const consumed = (async () => {
    for await (const batch of subscribeAgents(set.addresses(), {
      signal: stop.signal,
      tls: set.tls,
      onStatus: (s) => (s.state === 'up' ? up.add(s.address) : up.delete(s.address)),
    })) {
      all.push(...batch);
      for (const e of batch) {
        if (e.type === 'dnat') dnat++;
        else if (e.type === 'catalog') catalogs.set(e.node, e.services);
      }
    }
  })();
  await waitFor('this process to see every agent up', () => equals(up.size, set.agents.length), 15_000);
  return {
    async waitForDnat(n, timeoutMs = 15_000) {
      await waitFor('the agents to send every connection the backends logged', () => atLeast(dnat, n), timeoutMs);
    },
    async waitForCatalog(what, check, timeoutMs = 15_000) {
      await waitFor(
        what,
        () => {
          const latest = set.agents.map((a) => catalogs.get(a.node));
          return latest.every((c) => c !== undefined && check(c)) || new NotYet(latest, check.toString());
        },
        timeoutMs,
      );
    },
    events: () => all,
    async stop() {
      stop.abort();
      await consumed;
    },
  };
}

export interface LiveReport extends Omit<AgentsWatch, 'stop'> {
  /** SIGINT (the report's Ctrl-C), then the parsed JSON it printed. */
  finish(): Promise<Report>;
  stderr(): string;
}

/**
 * `stickyscope report --agent ... --format json` for real (over the agents' TLS), listening until finish(), with a
 * watch beside it (watchAgents); resolves once every agent is reported up, so traffic sent after it is covered.
 */
export async function startReportCli(
  t: TestContext,
  set: LabAgents,
  maxDuration = '180s',
  extra: string[] = [],
): Promise<LiveReport> {
  const addresses = set.addresses();
  const run = startCli([
    'report',
    ...addresses.flatMap((a) => ['--agent', a]),
    ...set.clientArgs(),
    '--duration',
    maxDuration,
    '--format',
    'json',
    ...extra,
  ]);
  t.after(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  });
  const watch = await watchAgents(t, set);
  const ups = () => new Set([...run.stderr().matchAll(/^agent (\S+) \(.*\) up$/gm)].map((m) => m[1])).size;
  await waitFor(
    'report to see every agent up',
    () => {
      if (run.child.exitCode !== null) throw new Error(`report exited before every agent was up: ${run.stderr()}`);
      return atLeast(ups(), addresses.length);
    },
    15_000,
    25,
  );
  return {
    stderr: run.stderr,
    waitForDnat: watch.waitForDnat,
    waitForCatalog: watch.waitForCatalog,
    events: watch.events,
    async finish() {
      await watch.stop();
      run.child.kill('SIGINT');
      const { code } = await run.exit;
      if (code !== 0) throw new Error(`report exited ${code}: ${run.stderr()}`);
      return JSON.parse(run.stdout()) as Report;
    },
  };
}

/** A lab with an agent on every node; in t.after the agents stop before the lab goes down. */
export async function startLabWithAgents(
  t: TestContext,
  config: LabConfig,
  opts: StartAgentsOptions = {},
): Promise<{ lab: Lab; agents: LabAgents }> {
  const prefix = runPrefix();
  let agents: LabAgents | undefined;
  t.after(async () => {
    await agents?.stopAll();
    await labDown(prefix);
  });
  const lab = await labUp({ prefix, config });
  agents = await startAgents(t, lab, undefined, opts);
  return { lab, agents };
}
