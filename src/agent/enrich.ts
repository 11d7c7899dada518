// Names what the probe saw with what the node's rules say: the Service name on flows
// to a known Service address (or a NodePort at one of the node's addresses), and the
// pod behind the backend where a catalog knows pods.
import type { ConnEvent, Proto, ServiceInfo, StickyEvent } from '../core/event.js';
import type { NodePortCatalog } from './node-ports.js';

interface Known {
  name: string | null;
  pods: Record<string, string> | undefined;
  /** sessionAffinity: ClientIP: its new connections change the node's affinity lists or sets. */
  pinned: boolean;
}

/** Services by address, one map per protocol: a flow finds its own without building a "service/proto" key. */
type ByProto = Record<Proto, Map<string, Known>>;

export class Enricher {
  private byProto: ByProto = { tcp: new Map(), udp: new Map(), sctp: new Map() };
  /** Date.now() of the last batch with a new connection to a Service with ClientIP affinity; 0 before any. */
  pinnedFlowAt = 0;

  /** `catalog`: the node's services from the NodePort catalog, with what else names them (agent --pods). */
  constructor(
    private readonly nodePorts: NodePortCatalog,
    private readonly catalog: () => ServiceInfo[] = () => nodePorts.services(),
  ) {}

  /** The services flows are named by: the node's catalog. */
  setServices(services: readonly ServiceInfo[]): void {
    const byProto: ByProto = { tcp: new Map(), udp: new Map(), sctp: new Map() };
    for (const s of services) {
      const slash = s.service.lastIndexOf('/');
      byProto[s.service.slice(slash + 1) as Proto]?.set(s.service.slice(0, slash), {
        name: s.name,
        pods: s.pods,
        pinned: s.affinity.mode === 'ClientIP',
      });
    }
    this.byProto = byProto;
  }

  /**
   * Fills serviceName/backendPod in place, where known and not already set. Returns the
   * time of the first flow that taught the NodePort catalog a node address (the catalog
   * changed: the caller sends it before these events), NaN when none did.
   */
  enrich(events: StickyEvent[]): number {
    let learnedAt = NaN;
    let pinned = false;
    for (const e of events) {
      if (e.type !== 'dnat' && e.type !== 'snat' && e.type !== 'insert' && !isConn(e)) continue;
      let known = this.byProto[e.proto].get(e.service);
      // Only a translated flow can have come through a NodePort (an insert may be any connection; live ones are DNATed).
      if (!known && (e.type === 'dnat' || e.type === 'open') && this.nodePorts.learn(e.service, e.proto)) {
        this.setServices(this.catalog());
        known = this.byProto[e.proto].get(e.service);
        if (Number.isNaN(learnedAt)) learnedAt = e.ts;
      }
      if (!known) continue;
      if (known.name !== null) e.serviceName ??= known.name;
      const pod = known.pods?.[e.backend];
      if (pod !== undefined) e.backendPod ??= pod;
      pinned ||= known.pinned && e.type === 'dnat';
    }
    if (pinned) this.pinnedFlowAt = Date.now();
    return learnedAt;
  }
}

const isConn = (e: StickyEvent): e is ConnEvent => e.type === 'open' || e.type === 'close' || e.type === 'traffic';
