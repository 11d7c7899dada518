// Where a Service's picks went in the cluster's topology, and where kube-proxy should send them (issue 29): from the
// API's catalog (the nodes' zones, the endpoints' places and hints, the address's traffic policy), each node's picks
// per backend, and each node's rules. docs/design.md ("Topology") states the figures; the expected endpoints follow
// kube-proxy's CategorizeEndpoints (src/kube-proxy/usable-endpoints.ts).
import type { EndpointPlace, NodePlace, ServiceTopology } from '../core/event.js';
import { joinHostPort } from '../core/ip.js';
import type { KubeEndpoint } from '../kube-proxy/model.js';
import { hintsIgnored, usableEndpoints } from '../kube-proxy/usable-endpoints.js';
import { compareAddr } from './addresses.js';
import type { NodeView, ServiceRec } from './services.js';

interface NodeRouting {
  node: string;
  zone: string | null;
  selections: number;
  /** Picks of a backend on this node, in its zone (same node included), in another zone. */
  sameNode: number;
  sameZone: number;
  crossZone: number;
  /**
   * How kube-proxy narrows the endpoints here, how many it should use, and which (not listed for `all`, every ready
   * endpoint: thousands of them on every node would be the report's bulk).
   */
  expected: { mode: 'PreferSameNode' | 'PreferSameZone' | 'all' | 'local'; count: number; endpoints: string[] };
  /** Why the node does not narrow though the Service asks it to, or drops its traffic. */
  fallback?: string;
  /** The node's rules hold other endpoints than expected. */
  rules?: { missing: string[]; extra: string[] };
}

export interface TopologyFigures {
  policy: 'Cluster' | 'Local';
  distribution: string | null;
  selections: number;
  sameNode: number;
  sameZone: number;
  crossZone: number;
  /** Picks where the node's or the backend's zone is unknown (no zone label, or a backend the API does not place). */
  unknownZone: number;
  /** sameZone / (sameZone + crossZone); null without such picks. */
  sameZoneShare: number | null;
  nodes: NodeRouting[];
  /**
   * Each backend's picks beside what the topology implies: every node's picks spread evenly over the endpoints
   * kube-proxy should use there (a lone pod in a zone takes that zone's whole load).
   */
  backends: { backend: string; zone: string | null; selections: number; expectedSelections: number }[];
}

/** An endpoint place as kube-proxy's model has it ("ip:port" and "[v6]:port" apart; validated on the way in). */
function kubeEndpoint(p: EndpointPlace): KubeEndpoint {
  const i = p.endpoint.lastIndexOf(':');
  return {
    ip: p.endpoint.slice(0, i).replace(/^\[(.*)\]$/, '$1'),
    port: Number(p.endpoint.slice(i + 1)),
    pod: '',
    node: p.node ?? '',
    ...(p.zone !== undefined ? { zone: p.zone } : {}),
    hints: { zones: p.zoneHints ?? [], nodes: p.nodeHints ?? [] },
    ready: p.ready,
    serving: p.serving,
    terminating: p.terminating,
  };
}

/** What `node` should use of the address's endpoints, as kube-proxy decides it. */
function expectedOn(t: ServiceTopology, eps: KubeEndpoint[], node: string, zone: string | undefined) {
  const u = usableEndpoints(
    {
      namespace: '',
      name: '',
      portName: '',
      clusterIP: '',
      port: 0,
      protocol: 'tcp',
      sessionAffinity: 'None',
      internalTrafficPolicy: t.policy,
      endpoints: eps,
    },
    node,
    zone,
  );
  const used = t.policy === 'Local' ? u.local : u.cluster;
  const endpoints = used.map((e) => joinHostPort(e.ip, e.port));
  const mode = t.policy === 'Local' ? 'local' : u.mode === '' ? 'all' : u.mode;
  let fallback = t.policy === 'Cluster' ? hintsIgnored(eps, node, zone) : undefined;
  if (t.policy === 'Local' && endpoints.length === 0 && u.any)
    fallback = 'internalTrafficPolicy Local and no endpoint on this node: its connections are dropped';
  return { mode, endpoints: endpoints.sort(compareAddr), ...(fallback ? { fallback } : {}) } as const;
}

/** The expected endpoints as the report shows them. */
function shown(e: { mode: NodeRouting['expected']['mode']; endpoints: string[] }): NodeRouting['expected'] {
  return { mode: e.mode, count: e.endpoints.length, endpoints: e.mode === 'all' ? [] : e.endpoints };
}

/** Lookups built once per catalog (its node list, a Service's topology), not on every TUI frame. */
const zonesCache = new WeakMap<readonly NodePlace[], Map<string, string | undefined>>();
const placesCache = new WeakMap<ServiceTopology, Map<string, EndpointPlace>>();

function memo<K, V>(cache: { get(k: K): V | undefined; set(k: K, v: V): unknown }, key: K, make: () => V): V {
  let v = cache.get(key);
  if (v === undefined) {
    v = make();
    cache.set(key, v);
  }
  return v;
}

type Expected = ReturnType<typeof expectedOn>;
/**
 * What each node should use, by the API catalog's topology object (a new one with every catalog) and "node zone": the
 * TUI asks every frame, and the answer changes only with a catalog.
 */
const expectedCache = new WeakMap<ServiceTopology, Map<string, Expected>>();

function expectedCached(
  t: ServiceTopology,
  eps: () => KubeEndpoint[],
  node: string,
  zone: string | undefined,
): Expected {
  const byNode = memo(expectedCache, t, () => new Map<string, Expected>());
  return memo(byNode, `${node} ${zone ?? ''}`, () => expectedOn(t, eps(), node, zone));
}

/** What a Service's figures are computed from, once per call. */
interface Context {
  svc: ServiceRec;
  t: ServiceTopology;
  zoneOfNode: Map<string, string | undefined>;
  eps: () => KubeEndpoint[];
  placeOf: (b: number) => EndpointPlace | undefined;
  /** A backend's zone: its EndpointSlice's, else its node's. */
  zoneOf: (b: number) => string | undefined;
}

/**
 * The Service's topology figures, from the window's picks or all of them; undefined without the API's catalog.
 * `backends` false leaves out the per-backend rows (the TUI's list wants the shares only, every frame).
 */
export function topologyOf(
  svc: ServiceRec,
  nodeNames: readonly string[],
  clusterNodes: readonly NodePlace[],
  inWindow: boolean,
  backends = true,
): TopologyFigures | undefined {
  const t = svc.cluster?.info.topology;
  if (!t) return undefined;
  const zoneOfNode = memo(zonesCache, clusterNodes, () => new Map(clusterNodes.map((n) => [n.name, n.zone])));
  const places = memo(placesCache, t, () => new Map(t.endpoints.map((p) => [p.endpoint, p])));
  let kube: KubeEndpoint[] | undefined;
  const placeOf = (b: number) =>
    places.get(svc.backendNames[b]!) ??
    svc.otherAddresses
      .get(b)
      ?.map((a) => places.get(a))
      .find(Boolean);
  const ctx: Context = {
    svc,
    t,
    zoneOfNode,
    eps: () => (kube ??= t.endpoints.map(kubeEndpoint)),
    placeOf,
    zoneOf: (b) => {
      const p = placeOf(b);
      return p?.zone ?? (p?.node !== undefined ? zoneOfNode.get(p.node) : undefined);
    },
  };
  const counts = inWindow ? svc.nodeWin : svc.nodeCum;
  const out: TopologyFigures = {
    policy: t.policy,
    distribution: t.distribution ?? null,
    selections: 0,
    sameNode: 0,
    sameZone: 0,
    crossZone: 0,
    unknownZone: 0,
    sameZoneShare: null,
    nodes: [],
    backends: [],
  };
  const picked = new Map<number, number>();
  /** Expected picks by endpoint address: each node's picks over its expected endpoints. */
  const implied = new Map<string, number>();
  for (let i = 0; i < nodeNames.length; i++) {
    const node = nodeNames[i]!;
    if (node === '' || (counts[i] === undefined && svc.views[i] === undefined)) continue;
    const row = nodeRow(ctx, i, node, counts[i] ?? [], picked, implied);
    out.selections += row.selections;
    out.sameNode += row.sameNode;
    out.sameZone += row.sameZone;
    out.crossZone += row.crossZone;
    out.unknownZone += row.selections - row.sameZone - row.crossZone;
    out.nodes.push(row);
  }
  if (backends) out.backends = backendRows(svc, picked, implied, ctx.zoneOf);
  const zoned = out.sameZone + out.crossZone;
  out.sameZoneShare = zoned > 0 ? out.sameZone / zoned : null;
  out.nodes.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return out;
}

/** One node's picks by where they went, what it should use, and where its rules differ; adds to picked and implied. */
function nodeRow(
  ctx: Context,
  i: number,
  node: string,
  counts: readonly number[],
  picked: Map<number, number>,
  implied: Map<string, number>,
): NodeRouting {
  const zone = ctx.zoneOfNode.get(node);
  const row: NodeRouting = {
    node,
    zone: zone ?? null,
    selections: 0,
    sameNode: 0,
    sameZone: 0,
    crossZone: 0,
    expected: { mode: 'all', count: 0, endpoints: [] },
  };
  counts.forEach((n, b) => {
    if (!n) return;
    row.selections += n;
    picked.set(b, (picked.get(b) ?? 0) + n);
    if (ctx.placeOf(b)?.node === node) row.sameNode += n;
    const bz = ctx.zoneOf(b);
    if (zone !== undefined && bz !== undefined) {
      if (bz === zone) row.sameZone += n;
      else row.crossZone += n;
    }
  });
  const { fallback, ...expected } = expectedCached(ctx.t, ctx.eps, node, zone);
  row.expected = shown(expected);
  for (const e of expected.endpoints)
    implied.set(e, (implied.get(e) ?? 0) + row.selections / expected.endpoints.length);
  if (fallback) row.fallback = fallback;
  const rules = ctx.svc.views[i];
  const differ = rules && !rules.removed ? rulesDiff(rules, expected) : null;
  if (differ) row.rules = differ;
  return row;
}

/** A node's rules view against what it should hold, by view (a new one with every catalog) and expectation. */
const diffCache = new WeakMap<NodeView, { expected: Expected; diff: NodeRouting['rules'] | null }>();

function rulesDiff(rules: NodeView, expected: Omit<Expected, 'fallback'>): NodeRouting['rules'] | null {
  const hit = diffCache.get(rules);
  if (hit && hit.expected.endpoints === expected.endpoints) return hit.diff;
  const want = new Set(expected.endpoints);
  const missing = expected.endpoints.filter((e) => !rules.endpoints.has(e));
  const extra = [...rules.endpoints].filter((e) => !want.has(e)).sort(compareAddr);
  const diff = missing.length + extra.length > 0 ? { missing, extra } : null;
  diffCache.set(rules, { expected: expected as Expected, diff });
  return diff;
}

/** Backends with picks or expected ones, in address order; a pod's addresses of both families are one backend. */
function backendRows(
  svc: ServiceRec,
  picked: Map<number, number>,
  implied: Map<string, number>,
  zoneOf: (b: number) => string | undefined,
): TopologyFigures['backends'] {
  const expected = new Map<number, number>();
  for (const [address, n] of implied) {
    const b = svc.existingBackend(address);
    if (b !== undefined) expected.set(b, (expected.get(b) ?? 0) + n);
  }
  const shown = [...new Set([...picked.keys(), ...expected.keys()])];
  return shown
    .map((b) => ({
      backend: svc.backendNames[b]!,
      zone: zoneOf(b) ?? null,
      selections: picked.get(b) ?? 0,
      expectedSelections: Math.round((expected.get(b) ?? 0) * 10) / 10,
    }))
    .sort((x, y) => compareAddr(x.backend, y.backend));
}
