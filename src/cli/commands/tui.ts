// `stickyscope tui`: the terminal UI over live agents, the Kubernetes API's agents, or a replayed trace.
import { EnvironmentError, UsageError } from '../../core/errors.js';
import {
  clientTlsOptions,
  clientTlsUsage,
  parse,
  parseClientTls,
  parseDuration,
  parseNarrowing,
  timeRangeOptions,
  timeRangeUsage,
  shutdownSignal,
  type ClientSecurity,
  type Command,
} from '../command.js';
import { k8sOptions, k8sUsage, refuseK8sFlagsAlone, type K8sValues } from '../../k8s/cli.js';
import type { AggregatorFrameSource } from '../../tui/aggregator-source.js';
import { parseServices, serviceOption, serviceUsage } from '../service-option.js';
import { parseAgentAddresses } from '../agent-address.js';
import type { ReplayKeys } from '../../tui/replay-control.js';

const DEFAULT_FPS = 10;

export const command: Command = {
  usage: `Usage: stickyscope tui --agent HOST:PORT [--agent HOST:PORT ...] [options]
       stickyscope tui --k8s [-n NS] [--agent-namespace N] [--context C] [options]
       stickyscope tui --replay FILE [--speed N] [options]

A live terminal UI: one row per Service with its selection rate, each backend's
share, the spread verdict (chi-square against uniform), stickiness beside the 1/K
of random choice, and affinity violations. Enter opens a Service: its backends,
its clients (current backend, picks, last switch and why) and a sparkline of
selections. Violations, UDP backend/reflective-address changes, nodes going
down or up and lost events are printed above as they happen. With --k8s the agents
are found through the Kubernetes API, which also names the Services and their pods
and gives their affinity and endpoints.

Options:
${k8sUsage(21)}
${clientTlsUsage(21)}
${serviceUsage(21)}
  --replay FILE      play a trace file (from 'stickyscope record') instead
  --speed N          replay speed: trace seconds per second (default 1; 0 = as fast as possible)
${timeRangeUsage(21)}
  --window D         sliding window of the figures (default 60s)
  --fps N            screen updates per second, 1-60 (default ${DEFAULT_FPS})
  -h, --help         this text

Keys: arrows or j/k move, Enter opens, Esc goes back, s cycles the sort, / filters,
? shows the keys, q or Ctrl-C quits. In a replay, Space pauses and resumes, and
left and right step one window (--window) back or forward.`,

  async run(argv) {
    const { values } = parse(argv, {
      ...k8sOptions,
      ...clientTlsOptions,
      ...serviceOption,
      ...timeRangeOptions,
      replay: { type: 'string' },
      speed: { type: 'string' },
      window: { type: 'string' },
      fps: { type: 'string' },
    });
    const listed = parseAgentAddresses(values.agent ?? []);
    const listedServices = parseServices(values);
    const range = parseNarrowing(values);
    if (values.replay === undefined && (range.since !== undefined || range.until !== undefined))
      throw new UsageError('--since and --until apply to --replay FILE; agents are shown from now');
    const live = listed.length > 0 || values.k8s === true;
    if (live === (values.replay !== undefined)) {
      throw new UsageError(
        `give either --agent HOST:PORT (one or more), --k8s, or --replay FILE; got ${live ? 'both' : 'neither'}`,
      );
    }
    refuseK8sFlagsAlone(values);
    const { speed, fps } = parsePace(values);
    const windowSeconds = parseDuration(values.window ?? '60s', '--window') / 1000;
    if (!live && Object.keys(clientTlsOptions).some((f) => values[f as keyof typeof clientTlsOptions] !== undefined))
      throw new UsageError('--tls-* and --insecure apply to agents (--agent, --k8s), not to --replay');
    // Only for agents: a replay does not load the gRPC stack.
    const security = live ? await parseClientTls(values) : undefined;
    if (!(windowSeconds > 0)) throw new UsageError(`--window must be longer than zero; got '${values.window}'`);
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new EnvironmentError(
        `needs a terminal: stdin and stdout must be TTYs, but ${process.stdin.isTTY ? 'stdout' : 'stdin'} is not (for files and pipes use 'stickyscope report')`,
      );
    }

    // React's development build checks every element and costs several times more per frame.
    process.env.NODE_ENV ??= 'production';
    const { createState } = await import('../../aggregator/state.js');
    const { AggregatorFrameSource } = await import('../../tui/aggregator-source.js');
    const { runTui } = await import('../../tui/run.js');
    const source = new AggregatorFrameSource(createState({ windowSeconds }), '', { runningClock: live });
    const stopFeed = new AbortController();
    let feed: Promise<void>;

    let control: ReplayKeys | undefined;
    if (values.replay !== undefined) {
      const { startReplay } = await import('../../tui/replay-start.js');
      const narrowing = { ...range, services: listedServices };
      const started = await startReplay(source, {
        file: values.replay,
        speed,
        windowSeconds,
        narrowing,
        signal: stopFeed.signal,
      });
      feed = started.feed;
      control = started.control;
    } else {
      ({ feed } = await agentsFeed(source, { values, security: security!, listedServices, signal: stopFeed.signal }));
    }

    const app = runTui(source, { fps, ...(control ? { replay: control } : {}) });
    const signal = shutdownSignal();
    signal.addEventListener('abort', () => app.unmount(), { once: true });
    let failure: unknown = null;
    feed = feed.catch((err) => {
      failure = err;
      app.unmount();
    });
    await app.waitUntilExit();
    stopFeed.abort();
    await feed;
    if (failure) throw failure;
    return 0;
  },
};

/**
 * The agents' events (listed, or found through the Kubernetes API) into `source`. A cluster that cannot be reached
 * fails here, in plain text, before the screen is taken over.
 */
async function agentsFeed(
  source: AggregatorFrameSource,
  opts: { values: K8sValues; security: ClientSecurity; listedServices: string[] | undefined; signal: AbortSignal },
): Promise<{ feed: Promise<void> }> {
  const { values, security, listedServices, signal } = opts;
  const { namespaceServices, resolveAgentsFromArgs, startCatalogFeed } = await import('../../k8s/cli.js');
  const resolved = await resolveAgentsFromArgs(values, signal);
  const catalogs = await startCatalogFeed(resolved, (err) => source.note('warning', err.message));
  const services = namespaceServices(values.namespace, catalogs, listedServices);
  const agents = resolved.addresses;
  security.check(agents);
  resolved.discovery?.onChange((now) =>
    source.note(
      'warning',
      `the ready agents changed to ${now.join(', ') || 'none'}; showing ${agents.join(', ')} (restart to follow)`,
    ),
  );
  const { subscribeAgents } = await import('../../protocol/client.js');
  source.label = values.k8s ? `k8s agents ${agents.join(' ')}` : `agents ${agents.join(' ')}`;
  // In an object: a promise returned from an async function would be awaited with it.
  const feed = (async () => {
    const batches = subscribeAgents(agents, {
      signal,
      tls: security.tls,
      nodes: resolved.discovery?.nodes(),
      filter: services ? { services } : undefined,
    });
    const merged = catalogs ? catalogs.merge(batches) : batches;
    const { scopeCatalogs } = await import('../../core/service-scope.js');
    const scoped = services ? scopeCatalogs(merged, services, (m) => source.note('warning', m), agents.length) : merged;
    for await (const batch of scoped) source.push(batch);
  })();
  return { feed };
}

/** --speed (replay only) and --fps, checked. */
function parsePace(values: { replay?: string; speed?: string; fps?: string }): { speed: number; fps: number } {
  if (values.speed !== undefined && values.replay === undefined)
    throw new UsageError('--speed applies to --replay only');
  const speed = values.speed === undefined ? 1 : Number(values.speed);
  if (!(speed >= 0) || !Number.isFinite(speed))
    throw new UsageError(`--speed expects a number >= 0 (0 = as fast as possible); got '${values.speed}'`);
  const fps = values.fps === undefined ? DEFAULT_FPS : Number(values.fps);
  if (!Number.isInteger(fps) || fps < 1 || fps > 60)
    throw new UsageError(`--fps expects a whole number from 1 to 60; got '${values.fps}'`);
  return { speed, fps };
}
