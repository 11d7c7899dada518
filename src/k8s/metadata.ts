// Service metadata from the API as catalog events: Services and EndpointSlices of all namespaces, list-and-watched,
// and a fresh catalog every time the result changes, so each selection is judged against the endpoints of its moment.
import {
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Node,
  type V1Service,
} from '@kubernetes/client-node';
import { CLUSTER_NODE, type CatalogEvent, type NodePlace } from '../core/event.js';
import { buildCatalog } from './catalog.js';
import { listAndWatch } from './list-watch.js';

export interface MetadataOptions {
  kubeConfig: KubeConfig;
  signal: AbortSignal;
  /** Every catalog: the complete list of Services, never a delta. */
  onCatalog: (event: CatalogEvent) => void;
  /** Failures the watches are retrying after. */
  onError?: (err: Error) => void;
  retryMs?: number;
}

const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** The nodes and their zones, by name. */
function nodePlaces(nodes: readonly V1Node[]): NodePlace[] {
  const out: NodePlace[] = [];
  for (const n of nodes) {
    const name = n.metadata?.name;
    if (typeof name !== 'string' || name === '') continue;
    const zone = n.metadata?.labels?.[ZONE_LABEL];
    out.push(typeof zone === 'string' && zone !== '' ? { name, zone } : { name });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * Starts the watches; resolves once the Services' and EndpointSlices' first lists are in and the first catalog was
 * delivered. The watches run, reconnecting and relisting as needed, until the signal.
 * Pods are not watched: an EndpointSlice endpoint's targetRef already names its pod, and
 * watching every pod of a cluster would cost far more than it adds. Nodes are, for their zones only; nothing waits
 * for them (an aggregator whose role may not list nodes still names Services), and a node's status updates, which are
 * most of their watch events, change no catalog.
 */
export async function watchMetadata(opts: MetadataOptions): Promise<void> {
  const { kubeConfig, signal } = opts;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  let ready = false;
  let pending = false;
  let last = '';
  const emit = () => {
    pending = false;
    if (!ready || signal.aborted) return;
    const services = buildCatalog(svcs.items(), slices.items());
    const nodeList = nodes ? nodePlaces(nodes.items()) : [];
    const text = JSON.stringify([services, nodeList]);
    if (text === last) return;
    last = text;
    const ev: CatalogEvent = { type: 'catalog', ts: Date.now() * 1000, node: CLUSTER_NODE, services };
    if (nodeList.length > 0) ev.nodes = nodeList;
    opts.onCatalog(ev);
  };
  // One catalog per burst: a relist reports every object within one turn.
  const onChange = () => {
    if (pending) return;
    pending = true;
    setImmediate(emit);
  };
  const common = { kubeConfig, signal, onChange, onError: opts.onError, retryMs: opts.retryMs };
  let nodes: { items(): readonly V1Node[] } | undefined;
  // Zones only: a catalog is rebuilt when the nodes' zones change, not at every node status update.
  let zones = '';
  listAndWatch<V1Node>({
    ...common,
    path: '/api/v1/nodes',
    list: () => core.listNode(),
    onChange: () => {
      if (!nodes) return;
      const now = JSON.stringify(nodePlaces(nodes.items()));
      if (now === zones) return;
      zones = now;
      onChange();
    },
  }).then(
    (watched) => {
      nodes = watched;
      zones = JSON.stringify(nodePlaces(watched.items()));
      onChange();
    },
    () => {},
  );
  const [svcs, slices] = await Promise.all([
    listAndWatch<V1Service>({ ...common, path: '/api/v1/services', list: () => core.listServiceForAllNamespaces() }),
    listAndWatch<V1EndpointSlice>({
      ...common,
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: () => discovery.listEndpointSliceForAllNamespaces(),
    }),
  ]);
  ready = true;
  emit();
}
