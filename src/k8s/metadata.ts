// Service metadata from the API as catalog events: Services and EndpointSlices of all namespaces, list-and-watched,
// and a fresh catalog every time the result changes, so each selection is judged against the endpoints of its moment.
import {
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Service,
} from '@kubernetes/client-node';
import { CLUSTER_NODE, type CatalogEvent } from '../core/event.js';
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

/**
 * Starts the watches; resolves once both first lists are in and the first catalog was
 * delivered. The watches run, reconnecting and relisting as needed, until the signal.
 * Pods are not watched: an EndpointSlice endpoint's targetRef already names its pod, and
 * watching every pod of a cluster would cost far more than it adds.
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
    const text = JSON.stringify(services);
    if (text === last) return;
    last = text;
    opts.onCatalog({ type: 'catalog', ts: Date.now() * 1000, node: CLUSTER_NODE, services });
  };
  // One catalog per burst: a relist reports every object within one turn.
  const onChange = () => {
    if (pending) return;
    pending = true;
    setImmediate(emit);
  };
  const common = { kubeConfig, signal, onChange, onError: opts.onError, retryMs: opts.retryMs };
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
