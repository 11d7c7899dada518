// `stickyscope agent` as a list of stages (src/core/stages.ts): the probe attached, the
// agent on it (agent.ts), its /metrics, the ready file; until the signal or the probe's
// end, then all stopped in one loop, last first.
import { EnvironmentError } from '../core/errors.js';
import { closeHttp, listenHttp } from '../core/http-listen.js';
import { readyFileStage } from '../core/ready-file.js';
import { startStages, type Stage } from '../core/stages.js';
import { attachSummary } from '../probe/attach-mode.js';
import { startProbe, type Probe, type ProbeOptions } from '../probe/probe.js';
import type { AttachMode } from '../probe/record-layout.js';
import { agentCredentials, type AgentTlsFiles } from '../protocol/tls.js';
import { startAgent, type RunningAgent } from './agent.js';
import type { AgentLimits } from './limits.js';
import { createAgentMetrics, type AgentMetrics } from './metrics.js';

export interface AgentRunOptions {
  node: string;
  netns?: string;
  listen: string;
  ringBufferBytes?: number;
  attach?: AttachMode;
  /** Mutual TLS for the gRPC port; plaintext when absent. */
  tls?: AgentTlsFiles;
  limits: Partial<AgentLimits>;
  summaryPeriodMs: number;
  /** Where to serve /metrics; none when absent. */
  metricsListen?: string;
  maxServices: number;
  readyFile?: string;
  /** `--pods FILE`: pod names by backend address (pod-names.ts). */
  podsFile?: string;
  /** Re-read the rules every second rather than on the changes `nft monitor` announces (--rules-poll). */
  rulesPoll?: boolean;
  /** Live connections from the conntrack table (--no-conntrack, --conntrack-sweep). */
  live?: Pick<ProbeOptions, 'liveConnections' | 'conntrackSweepMs'>;
  /** The helper's notes (byte counters unavailable, the table unreadable), as they come. */
  onNote?: (note: string) => void;
  /** libbpf's messages (--verbose); dropped when absent. */
  onLibbpf?: (line: string) => void;
  /** Problems that do not stop the agent (rules unreadable, a bad certificate rotation): said once until they change. */
  onWarning: (message: string) => void;
}

/** What the stages share: each is set by the stage that makes it. */
interface Running {
  probe?: Probe;
  /** Rejects when the probe fails or exits while the agent runs. */
  failed: Promise<never>;
  agent?: RunningAgent;
  metrics?: AgentMetrics;
  metricsAt: string;
  /** Rotated TLS files refused so far. */
  tlsRefusals: number;
}

/** Runs the agent until `signal` fires (or the probe ends: an EnvironmentError). */
export async function runAgent(opts: AgentRunOptions, signal: AbortSignal): Promise<void> {
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const run: Running = { failed: new Promise(() => {}), metricsAt: '', tlsRefusals: 0 };
  const stages = [probeStage(opts, run, stopped), agentStage(opts, run)];
  if (opts.metricsListen) stages.push(metricsStage(opts, run, opts.metricsListen));
  if (opts.readyFile) stages.push(readyFileStage(opts.readyFile, () => run.agent!.address));
  const running = await startStages(stages, { signal });
  try {
    if (signal.aborted) return;
    const { probe, agent } = run as Required<Running>;
    process.stderr.write(
      `agent ${opts.node} serving ${opts.tls ? 'mutual TLS' : 'plaintext'} on ${agent.address}${opts.netns ? ' for ' + opts.netns : ''}${run.metricsAt}, ${attachSummary(probe, opts.attach !== undefined)}; SIGINT/SIGTERM stops\n`,
    );
    await Promise.race([stopped, run.failed]);
  } finally {
    await running.stop();
  }
}

function probeStage(opts: AgentRunOptions, run: Running, stopped: Promise<void>): Stage {
  return {
    name: 'the probe',
    async start() {
      // Nothing downstream of the agent reads insert records (backend selections are dnat,
      // what the backend sees is snat); leaving them out halves the records per flow.
      const { node, netns, ringBufferBytes, attach, onLibbpf } = opts;
      const p = startProbe({ node, netns, ringBufferBytes, insertEvents: false, attach, onLibbpf, ...opts.live });
      if (opts.onNote) p.on('note', opts.onNote);
      run.probe = p;
      run.failed = new Promise<never>((_, reject) => {
        p.on('error', reject);
        p.on('exit', () => reject(new EnvironmentError('the probe helper exited while the agent was running')));
      });
      run.failed.catch(() => {});
      await Promise.race([p.ready, run.failed, stopped]).catch(async (err) => {
        await p.stop();
        throw err;
      });
    },
    stop: () => run.probe?.stop(),
  };
}

function agentStage(opts: AgentRunOptions, run: Running): Stage {
  return {
    name: 'the agent',
    async start() {
      const p = run.probe!;
      run.agent = await startAgent(p, {
        node: opts.node,
        listen: opts.listen,
        credentials: opts.tls
          ? await agentCredentials(opts.tls, opts.node, undefined, (message) => {
              run.tlsRefusals++;
              opts.onWarning?.(message);
            })
          : undefined,
        netns: opts.netns,
        limits: opts.limits,
        summaryPeriodMs: opts.summaryPeriodMs,
        // Its summable metrics are the reducer's counts; without --metrics it waits for a summary subscriber.
        summarizeFromStart: opts.metricsListen !== undefined,
        xtRecentDir: p.pid === undefined ? undefined : `/proc/${p.pid}/net/xt_recent`,
        attachPoints: [...p.attachPoints],
        podsFile: opts.podsFile,
        watchRules: !opts.rulesPoll,
        onWarning: opts.onWarning,
      }).catch((err: Error) => {
        throw new EnvironmentError(err.message);
      });
    },
    stop: () => run.agent?.stop(),
  };
}

function metricsStage(opts: AgentRunOptions, run: Running, listen: string): Stage {
  return {
    name: 'the metrics server',
    async start() {
      const { probe, agent } = run as Required<Running>;
      const m = createAgentMetrics({
        node: opts.node,
        probe,
        server: agent.server,
        recent: agent.recent,
        summarizer: agent.summarizer,
        maxServices: opts.maxServices,
        attachPoints: [...probe.attachPoints],
        tlsRefusals: opts.tls ? () => run.tlsRefusals : undefined,
      });
      const at = await listenHttp(m.http, listen).catch((err: Error) => {
        m.detach();
        throw new EnvironmentError(err.message);
      });
      run.metrics = m;
      run.metricsAt = `, metrics on http://${at}/metrics`;
    },
    async stop() {
      run.metrics!.detach();
      await closeHttp(run.metrics!.http);
    },
  };
}
