// Where the agents are: the ready pods of the agent DaemonSet, as podIP:port, kept up
// to date while nodes come and go.
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { joinHostPort } from './catalog.js';
import { listAndWatch } from './list-watch.js';

export interface DiscoverOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Label selector of the agent pods, e.g. app.kubernetes.io/name=stickyscope-agent. */
  selector: string;
  /** The agents' gRPC port; when absent, each pod's container port named "grpc". */
  port?: number;
  signal: AbortSignal;
  onError?: (err: Error) => void;
  retryMs?: number;
}

export interface AgentDiscovery {
  /** Ready agents now, "podIP:port", sorted. */
  addresses(): string[];
  /** Node name of each ready agent, by address. */
  nodes(): Record<string, string>;
  /** Called with the new address list whenever the set of ready agents changes; returns an unsubscribe. */
  onChange(cb: (addresses: string[]) => void): () => void;
}

/** Resolves after the first list of agent pods. */
export async function discoverAgents(opts: DiscoverOptions): Promise<AgentDiscovery> {
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  const listeners = new Set<(addresses: string[]) => void>();
  let current = new Map<string, string>();
  let pods: { items(): readonly V1Pod[] } | undefined;
  const refresh = () => {
    if (!pods) return;
    const next = readyAgents(pods.items(), opts.port);
    const same = next.size === current.size && [...next.keys()].every((a) => current.has(a));
    current = next;
    if (same) return;
    const addresses = [...next.keys()].sort();
    for (const cb of listeners) cb(addresses);
  };
  pods = await listAndWatch<V1Pod>({
    kubeConfig: opts.kubeConfig,
    signal: opts.signal,
    path: `/api/v1/namespaces/${encodeURIComponent(opts.namespace)}/pods`,
    labelSelector: opts.selector,
    list: () => core.listNamespacedPod({ namespace: opts.namespace, labelSelector: opts.selector }),
    onChange: refresh,
    onError: opts.onError,
    retryMs: opts.retryMs,
  });
  refresh();
  return {
    addresses: () => [...current.keys()].sort(),
    nodes: () => Object.fromEntries(current),
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
}

/** Address -> node name of the pods that can serve now. */
function readyAgents(pods: readonly V1Pod[], port?: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running' || !pod.status.podIP) continue;
    if (!pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
    const p = port ?? grpcPort(pod);
    if (p === undefined) continue;
    out.set(joinHostPort(pod.status.podIP, p), pod.spec?.nodeName ?? '');
  }
  return out;
}

function grpcPort(pod: V1Pod): number | undefined {
  for (const c of pod.spec?.containers ?? []) {
    const p = c.ports?.find((port) => port.name === 'grpc');
    if (p) return p.containerPort;
  }
  return undefined;
}
