// Node-local affinity divergence: the same client reaching the same Service through different nodes gets independent
// picks (affinity tables are per node). Selections are grouped by Service name where known, else by address, since a
// Service is reached at several addresses (its cluster IP; a NodePort at each node's own address).
import { compareAddr } from './addresses.js';
import type { AggregatorState } from './state.js';

interface DivergenceExample {
  client: string;
  /** Backend of the client's latest selection on each node, by node name. */
  backends: Record<string, string>;
  /** Address ("ip:port/proto") of those selections by node, when they differ. */
  via?: Record<string, string>;
}

export interface Divergence {
  clients: number;
  examples: DivergenceExample[];
}

interface Latest {
  ts: number;
  svc: number;
  /** The address ("ip:port/proto") the selection came through. */
  via: string;
  backend: string;
}

interface ClientInGroup {
  byNode: Map<number, Latest>;
  /** Services of the group the client selected through. */
  services: Set<number>;
}

/**
 * Divergence per service id, over the window's selections or over everything kept. A diverging client is listed under
 * each address it selected through, with the backend of its latest selection on each node; when those went to
 * different addresses, `via` names the address used on each node. A client diverging across two NodePort addresses
 * is thus counted under both addresses, once under each.
 */
export function nodeDivergence(
  state: AggregatorState,
  scope: 'window' | 'cumulative',
  maxExamples: number,
): Map<number, Divergence> {
  const list = state.services.list;
  const groupOf = list.map((svc) => {
    const name = svc.latest?.info.name;
    return name ? `${name}/${svc.key.slice(svc.key.lastIndexOf('/') + 1)}` : svc.key;
  });
  const groups = new Map<string, Map<number, ClientInGroup>>();
  const see = (node: number, svc: number, client: number, backend: number, ts: number, frontend: number) => {
    const g = groupOf[svc]!;
    let clients = groups.get(g);
    if (!clients) {
      clients = new Map();
      groups.set(g, clients);
    }
    let c = clients.get(client);
    if (!c) {
      c = { byNode: new Map(), services: new Set() };
      clients.set(client, c);
    }
    c.services.add(svc);
    const prev = c.byNode.get(node);
    const via = list[svc]!.addresses[frontend] ?? list[svc]!.key;
    if (!prev || ts >= prev.ts) c.byNode.set(node, { ts, svc, via, backend: list[svc]!.backendNames[backend]! });
  };
  if (scope === 'window') {
    const r = state.ring;
    for (let i = 0; i < r.length; i++) {
      const j = r.at(i);
      see(r.node[j]!, r.svc[j]!, r.client[j]!, r.backend[j]!, r.ts[j]!, r.frontend[j]!);
    }
  } else {
    const p = state.pairs;
    for (const i of p.all())
      see(p.node[i]!, p.svc[i]!, p.client[i]!, p.lastBackend[i]!, p.lastTs[i]!, p.lastFrontend[i]!);
  }

  const out = new Map<number, Divergence>();
  const nodeName = (n: number) => state.roster.names[n]!;
  for (const clients of groups.values()) {
    for (const key of sortedClients(state, [...clients.keys()])) {
      const c = clients.get(key)!;
      const latest = [...c.byNode].sort(([a], [b]) => (nodeName(a) < nodeName(b) ? -1 : 1));
      if (new Set(latest.map(([, l]) => l.backend)).size < 2) continue;
      const example: DivergenceExample = { client: state.clients.name(key), backends: {} };
      for (const [n, l] of latest) example.backends[nodeName(n)] = l.backend;
      if (new Set(latest.map(([, l]) => l.via)).size > 1) {
        example.via = {};
        for (const [n, l] of latest) example.via[nodeName(n)] = l.via;
      }
      for (const svc of c.services) {
        let d = out.get(svc);
        if (!d) {
          d = { clients: 0, examples: [] };
          out.set(svc, d);
        }
        d.clients++;
        if (d.examples.length < maxExamples) d.examples.push(example);
      }
    }
  }
  return out;
}

/** Client keys in address order (keys below 2^32 are IPv4 addresses as numbers). */
function sortedClients(state: AggregatorState, keys: number[]): number[] {
  const TWO32 = 4294967296;
  return keys.sort((a, b) =>
    a < TWO32 && b < TWO32 ? a - b : compareAddr(state.clients.name(a), state.clients.name(b)),
  );
}
