// The --k8s flags shared by tui, record and report: agents found through the API
// instead of listed by hand, and Service metadata from the API.
import type { CatalogEvent } from '../core/event.js';
import { printable } from '../core/text.js';
import { UsageError, EnvironmentError } from '../core/errors.js';
import type { AgentDiscovery } from './agents.js';
import { CatalogFeed } from './catalog-feed.js';

const DEFAULT_NAMESPACE = 'stickyscope';
/** How long the API server has for the first list at start; the watches retry for ever once running. */
const START_TIMEOUT_MS = 15_000;
export const DEFAULT_SELECTOR = 'app.kubernetes.io/name=stickyscope-agent';

/** Spread into a command's parse() options. */
export const k8sOptions = {
  agent: { type: 'string', multiple: true },
  k8s: { type: 'boolean' },
  // -n and --context as kubectl spells them, so `kubectl stickyscope` takes kubectl's usual flags: -n narrows to the
  // Services of a namespace, as kubectl's does to its objects.
  namespace: { type: 'string', short: 'n' },
  'agent-namespace': { type: 'string' },
  selector: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
} as const;

const K8S_FLAGS: [string, string][] = [
  ['--agent HOST:PORT', 'an agent to subscribe to (repeat for several nodes)'],
  [
    '--k8s',
    'find the agents through the Kubernetes API (ready pods of the agent\nDaemonSet) and take Service names, affinity and endpoints from the API',
  ],
  [
    '-n, --namespace N',
    "only the Services of namespace N, as kubectl's -n (those the API lists at start).\n-n used to name the agent pods' namespace: that is --agent-namespace now",
  ],
  ['--agent-namespace N', `namespace of the agent pods (default ${DEFAULT_NAMESPACE})`],
  ['--selector S', `label selector of the agent pods\n(default ${DEFAULT_SELECTOR})`],
  ['--kubeconfig F', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)'],
  ['--context C', "the kubeconfig's context to use (default: its current-context)"],
];

/**
 * The flags' help lines, descriptions starting at `column` to line up with the command's own; without `namespace`
 * (serve, which covers every Service) the -n line is left out.
 */
export function k8sUsage(column: number, opts: { namespace?: boolean } = {}): string {
  const pad = ' '.repeat(column);
  const flags = opts.namespace === false ? K8S_FLAGS.filter(([f]) => !f.startsWith('-n')) : K8S_FLAGS;
  return flags.map(([flag, text]) => `  ${flag.padEnd(column - 3)} ${text.split('\n').join(`\n${pad}`)}`).join('\n');
}

export interface K8sValues {
  agent?: string[];
  k8s?: boolean;
  namespace?: string;
  'agent-namespace'?: string;
  selector?: string;
  kubeconfig?: string;
  context?: string;
}

export interface ResolvedAgents {
  /** --agent addresses, plus with --k8s the agents ready at start. */
  addresses: string[];
  /** With --k8s: the ready agent set over time (onChange for nodes that come and go). */
  discovery?: AgentDiscovery;
  /**
   * With --k8s: starts watching Services and EndpointSlices; onCatalog gets a complete
   * catalog (source 'k8s') now and after every change, until the signal. Resolves
   * once the first catalog was delivered.
   */
  metadata?: (onCatalog: (event: CatalogEvent) => void, onError?: (err: Error) => void) => Promise<void>;
}

/** The API's flags mean nothing without --k8s: a usage error rather than silently ignored. */
export function refuseK8sFlagsAlone(values: K8sValues): void {
  if (values.k8s) return;
  for (const flag of ['namespace', 'agent-namespace', 'selector', 'kubeconfig', 'context'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} only applies with --k8s; got --${flag} without it`);
  }
}

/**
 * `signal` ends the API watches; pass the command's shutdownSignal(). With `allowNone`
 * (serve, which waits for agents to come), finding no ready agent at start is no error.
 */
export async function resolveAgentsFromArgs(
  values: K8sValues,
  signal: AbortSignal,
  opts: { allowNone?: boolean } = {},
): Promise<ResolvedAgents> {
  const listed = values.agent ?? [];
  refuseK8sFlagsAlone(values);
  if (!values.k8s) return { addresses: listed };
  const { discoverAgents, loadKubeConfig, watchMetadata } = await loadClient();
  const kubeConfig = loadKubeConfig(values.kubeconfig, values.context);
  const namespace = values['agent-namespace'] ?? DEFAULT_NAMESPACE;
  const selector = values.selector ?? DEFAULT_SELECTOR;
  const server = kubeConfig.getCurrentCluster()?.server;
  let discovery: AgentDiscovery;
  try {
    discovery = await failFast(signal, (s, onError) =>
      discoverAgents({ kubeConfig, namespace, selector, signal: s, onError }),
    );
  } catch (err) {
    throw new EnvironmentError(
      `failed to list agent pods in namespace '${namespace}' at ${server}: ${(err as Error).message}`,
    );
  }
  const found = discovery.addresses();
  if (found.length === 0 && listed.length === 0 && !opts.allowNone) {
    throw new EnvironmentError(
      `failed to find agents: no ready pod matches '${selector}' in namespace '${namespace}' at ${server}; expected the agent DaemonSet (kubectl apply -k deploy/)`,
    );
  }
  return {
    addresses: [...new Set([...listed, ...found])],
    discovery,
    async metadata(onCatalog, onError) {
      try {
        await failFast(
          signal,
          (s, onFailure) => watchMetadata({ kubeConfig, signal: s, onCatalog, onError: onFailure }),
          onError,
        );
      } catch (err) {
        throw new EnvironmentError(
          `failed to list Services and EndpointSlices at ${server}: ${(err as Error).message}`,
        );
      }
    },
  };
}

/**
 * The agents to follow as a set that changes: the --agent list, plus with --k8s the
 * ready agents as they come and go.
 */
export function agentDirectory(resolved: ResolvedAgents, listed: readonly string[]) {
  const discovery = resolved.discovery;
  const addresses = () => [...new Set([...listed, ...(discovery?.addresses() ?? [])])].sort();
  return {
    addresses,
    onChange(cb: (addresses: string[]) => void): () => void {
      return discovery ? discovery.onChange(() => cb(addresses())) : () => {};
    },
  };
}

/**
 * With --k8s, the API's catalogs ready to merge into the agents' stream (the first one
 * already in); without it, undefined. `onError` hears of watch failures being retried.
 */
export async function startCatalogFeed(
  resolved: ResolvedAgents,
  onError: (err: Error) => void,
): Promise<CatalogFeed | undefined> {
  if (!resolved.metadata) return undefined;
  const feed = new CatalogFeed();
  await resolved.metadata((e) => feed.push(e), onError);
  return feed;
}

const labelRe = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * -n NS: the Services of namespace NS as --service entries ("NS/name", every port), from the API's catalog at start,
 * so the agents filter at the source as for --service. With --service as well, its entries, each checked to lie in NS.
 * A Service created in NS later is not followed: the agents' filter is set once, when subscribing.
 */
export function namespaceServices(
  namespace: string | undefined,
  catalogs: CatalogFeed | undefined,
  services: string[] | undefined,
): string[] | undefined {
  if (namespace === undefined) return services;
  if (!labelRe.test(namespace))
    throw new UsageError(
      `-n/--namespace expects a namespace name (a DNS label: lowercase letters, digits, '-'); got '${printable(namespace.slice(0, 80))}'`,
    );
  if (services) {
    const outside = services.find((e) => !/\/(tcp|udp|sctp)$/.test(e) && !e.startsWith(`${namespace}/`));
    if (outside) throw new UsageError(`--service ${outside} is not in namespace '${namespace}' (-n ${namespace})`);
    return services;
  }
  const listed = (catalogs?.latest?.services ?? []).flatMap((s) => (s.name === null ? [] : [s.name.split(':')[0]!]));
  const inNamespace = [...new Set(listed.filter((n) => n.startsWith(`${namespace}/`)))].sort();
  if (inNamespace.length === 0) {
    const others = [...new Set(listed.map((n) => n.split('/')[0]!))].sort();
    throw new UsageError(
      `-n ${namespace}: the Kubernetes API lists no Service in namespace '${namespace}'${others.length ? `; namespaces with Services: ${others.join(', ')}` : ''} (the agents' namespace is --agent-namespace)`,
    );
  }
  return inNamespace;
}

/**
 * The client library is loaded only for --k8s, so a command without it never pays for
 * it, and a library that cannot load here (2.x needs Node >= 22) fails only --k8s, in
 * one line.
 */
async function loadClient() {
  try {
    const [agents, config, metadata] = await Promise.all([
      import('./agents.js'),
      import('./kube-config.js'),
      import('./metadata.js'),
    ]);
    return {
      discoverAgents: agents.discoverAgents,
      loadKubeConfig: config.loadKubeConfig,
      watchMetadata: metadata.watchMetadata,
    };
  } catch (err) {
    const first = String((err as Error)?.message ?? err).split('\n')[0];
    throw new EnvironmentError(
      `failed to load the Kubernetes client (@kubernetes/client-node) on Node ${process.version}: ${first}`,
    );
  }
}

/**
 * The watches retry forever, which is right once running; at start a cluster that
 * cannot be reached should fail the command, so a failure before the first list ends it.
 * Later failures go to `onLater`.
 */
async function failFast<T>(
  signal: AbortSignal,
  start: (signal: AbortSignal, onError: (err: Error) => void) => Promise<T>,
  onLater?: (err: Error) => void,
): Promise<T> {
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  let started = false;
  // An API server that accepts the connection and never answers would hold the command for good.
  const noAnswer = setTimeout(
    () =>
      ac.abort(new Error(`no answer within ${START_TIMEOUT_MS / 1000} s (is the server in the kubeconfig reachable?)`)),
    START_TIMEOUT_MS,
  );
  try {
    const result = await start(ac.signal, (err) => {
      if (!started) ac.abort(err);
      else onLater?.(err);
    });
    started = true;
    return result;
  } finally {
    clearTimeout(noAnswer);
  }
}
