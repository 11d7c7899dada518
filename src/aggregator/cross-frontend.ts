// The `crossFrontend` cause of a violation: kube-proxy keys ClientIP affinity by endpoint, whichever address of the
// Service port the client used, but an externalTrafficPolicy: Local frontend (a NodePort, a load-balancer address)
// checks and sets only the local endpoints' entries. A client that goes through both is pinned to a local endpoint by
// the Local frontend, and the ClusterIP's next pick follows that entry: a true violation, with a cause that can be named.
import type { PairTable } from './pair-table.js';
import type { Services } from './services.js';
import type { OpenViolation } from './violation-causes.js';

/**
 * Whether another frontend of the same Service port (same name) sent the client, on the same node, to the backend it
 * moved to, after its previous pick through this one. Scans the Services: run per violation, not per selection.
 */
export function pinnedElsewhere(services: Services, pairs: PairTable, v: OpenViolation): boolean {
  const name = services.list[v.svc]!.latest?.info.name;
  if (!name) return false;
  for (const other of services.list) {
    if (other.id === v.svc || other.latest?.info.name !== name) continue;
    const p = pairs.find(v.node, other.id, v.client);
    if (p === -1) continue;
    const t = pairs.lastTs[p]!;
    if (other.backendNames[pairs.lastBackend[p]!] === v.to && t > v.prevTs && t <= v.ts) return true;
  }
  return false;
}
