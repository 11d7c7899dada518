// A catalog applied to the Services: a node's (its kube-proxy rules) or the API's, each entry describing a Service's
// frontends (frontends.ts) as one record.
import type { CatalogEvent, ServiceInfo } from '../core/event.js';
import { frontendGroups } from './frontends.js';
import type { ServiceRec, Services } from './services.js';

/**
 * Replaces one node's catalog: its services get fresh views, and services it listed
 * before but no longer does keep their affinity with no endpoints (so a pick that
 * follows is a forced one).
 *
 * Two kinds of catalog describe a service. A node's own (from its kube-proxy rules) holds for that node; the API's
 * (node CLUSTER_NODE, source 'k8s') holds for every node. The spec wins for what the spec decides (name, affinity,
 * pods); for endpoints a node's own rules win, since they are what its kube-proxy really translates to right now, and
 * the API's endpoints stand in for nodes whose rules do not list the service.
 */
export function applyCatalog(
  services: Services,
  listed: Map<number, Set<ServiceRec>>,
  node: number,
  ev: CatalogEvent,
): void {
  const before = listed.get(node) ?? new Set<ServiceRec>();
  const now = new Set<ServiceRec>();
  for (const [rec, info] of describedServices(services, ev.services)) {
    rec.setRules(node, { info, endpoints: new Set(info.endpoints), removed: false });
    now.add(rec);
  }
  for (const rec of before) {
    const old = rec.views[node];
    if (!now.has(rec) && old) rec.setRules(node, { info: old.info, endpoints: new Set(), removed: true });
  }
  listed.set(node, now);
}

/**
 * Replaces the API's catalog (node CLUSTER_NODE): it holds for every node and is no
 * node itself. Services it listed before but no longer does fall back to the rules.
 */
export function applyClusterCatalog(services: Services, listed: Set<ServiceRec>, ev: CatalogEvent): void {
  const now = new Set<ServiceRec>();
  for (const [rec, info] of describedServices(services, ev.services)) {
    rec.setCluster({ info, endpoints: new Set(info.endpoints), removed: false });
    now.add(rec);
  }
  for (const rec of listed) if (!now.has(rec)) rec.setCluster(undefined);
  listed.clear();
  for (const rec of now) listed.add(rec);
}

/**
 * A catalog's entries as the Services they describe: the frontends of one Service port (frontends.ts) are one
 * ServiceRec, described by one entry holding all their endpoints and pods. A frontend joins the group's record unless
 * it already has another record of its own (a record with history is never merged: selections before any catalog
 * named them); catalogs come before flows, so frontends are new or already joined.
 */
function describedServices(services: Services, infos: readonly ServiceInfo[]): [ServiceRec, ServiceInfo][] {
  const out: [ServiceRec, ServiceInfo][] = [];
  for (const group of frontendGroups(infos)) {
    const own = group.map((i) => services.existing(i.service));
    const rec = own.find((r) => r !== undefined) ?? services.ofKey(group[0]!.service);
    const by = new Map<ServiceRec, ServiceInfo[]>();
    group.forEach((info, i) => {
      const r = own[i] ?? rec;
      if (r === rec) services.alias(info.service, rec);
      const list = by.get(r);
      if (list) list.push(info);
      else by.set(r, [info]);
    });
    for (const [r, same] of by) {
      const info = same.length === 1 && same[0]!.service === r.key ? same[0]! : merged(r, same);
      for (const e of info.endpoints) r.backendOf(e, info.pods?.[e]);
      out.push([r, info]);
    }
  }
  return out;
}

/**
 * Frontends of one record as one entry: the first's name, affinity and traffic policy, every endpoint and pod (and the
 * places of the endpoints of every frontend with that policy: a cluster IP of each family).
 */
function merged(rec: ServiceRec, same: readonly ServiceInfo[]): ServiceInfo {
  const pods = same.some((i) => i.pods) ? Object.assign({}, ...same.map((i) => i.pods)) : undefined;
  const topo = same.find((i) => i.topology)?.topology;
  const places = topo && same.flatMap((i) => (i.topology?.policy === topo.policy ? i.topology.endpoints : []));
  return {
    ...same[0]!,
    service: rec.key,
    endpoints: [...new Set(same.flatMap((i) => i.endpoints))],
    ...(pods ? { pods } : {}),
    ...(topo && places
      ? { topology: { ...topo, endpoints: [...new Map(places.map((e) => [e.endpoint, e])).values()] } }
      : {}),
  };
}
