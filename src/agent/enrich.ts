// Names what the probe saw with what the node's rules say: the Service name on flows
// to a known Service address (or NodePort), and the pod behind the backend where a
// catalog knows pods.
import type { StickyEvent } from '../probe/event.js';
import type { NatCatalog } from './rules-parse.js';

interface Known {
  name: string | null;
  pods: Record<string, string> | undefined;
}

export class Enricher {
  private byService = new Map<string, Known>();
  private nodePorts = new Map<string, string>();

  setCatalog(c: NatCatalog): void {
    this.byService = new Map(c.services.map((s) => [s.service, { name: s.name, pods: s.pods }]));
    this.nodePorts = c.nodePorts;
  }

  /** Fills serviceName/backendPod in place, where known and not already set. */
  enrich(events: StickyEvent[]): void {
    if (this.byService.size === 0 && this.nodePorts.size === 0) return;
    for (const e of events) {
      if (e.type !== 'dnat' && e.type !== 'snat' && e.type !== 'insert') continue;
      const known = this.byService.get(`${e.service}/${e.proto}`);
      if (known) {
        if (known.name !== null) e.serviceName ??= known.name;
        const pod = known.pods?.[e.backend];
        if (pod !== undefined) e.backendPod ??= pod;
        continue;
      }
      // An insert may be any connection at all; only a translated one can have come through a NodePort.
      if (e.type === 'insert' || e.serviceName !== undefined || this.nodePorts.size === 0) continue;
      const name = this.nodePorts.get(`${e.service.slice(e.service.lastIndexOf(':') + 1)}/${e.proto}`);
      if (name !== undefined) e.serviceName = name;
    }
  }
}
