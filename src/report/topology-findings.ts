// Findings from a Service's topology figures (src/aggregator/topology.ts): nodes that do not narrow the endpoints the
// Service asks them to, or drop its traffic, and nodes whose rules hold other endpoints than kube-proxy should; once
// per report, nodes with no zone label.
import type { Finding } from './findings.js';
import type { Report, ServiceReport } from './types.js';

export function topologyFindings(s: ServiceReport, who: string): Finding[] {
  const t = s.topology;
  if (!t) return [];
  const out: Finding[] = [];
  const fallen = t.nodes.filter((n) => n.fallback);
  if (fallen.length > 0) {
    const drops = fallen.every((n) => n.expected.mode === 'local');
    const first = fallen[0]!;
    out.push({
      kind: 'topologyFallback',
      service: who,
      count: fallen.length,
      text: `${who}: ${fallen.map((n) => n.node).join(', ')}: ${first.fallback}${t.crossZone > 0 ? ` (${t.crossZone} cross-zone picks)` : ''}`,
      next: drops
        ? 'run a pod of it on those nodes, or set internalTrafficPolicy: Cluster'
        : "every ready endpoint needs a hint: give every node a topology.kubernetes.io/zone label (the EndpointSlice controller hints endpoints by their node's zone)",
    });
  }
  const differ = t.nodes.filter((n) => n.rules);
  if (differ.length > 0)
    out.push({
      kind: 'topologyRules',
      service: who,
      count: differ.length,
      text: `${who}: the rules of ${differ.map((n) => n.node).join(', ')} hold other endpoints than kube-proxy should use there (${differ
        .map((n) => `${n.node}: ${n.rules!.extra.length} extra, ${n.rules!.missing.length} missing`)
        .join('; ')})`,
      next: "check kube-proxy's version and logs on those nodes (it reads hints only where PreferSameTrafficDistribution is on)",
    });
  return out;
}

/** Once per report: the nodes with no zone label among those that made picks or hold rules of a Service. */
export function zonelessFinding(r: Report): Finding[] {
  const zoneless = new Set(
    r.services.flatMap((s) => s.topology?.nodes.filter((n) => n.zone === null) ?? []).map((n) => n.node),
  );
  if (zoneless.size === 0) return [];
  return [
    {
      kind: 'nodesWithoutZone',
      count: zoneless.size,
      text: `${zoneless.size} node(s) have no topology.kubernetes.io/zone label (${[...zoneless].sort().join(', ')}): their picks have no zone, and same-zone routing does not apply there`,
      next: 'label them (kubectl label node NAME topology.kubernetes.io/zone=ZONE), as cloud providers do',
    },
  ];
}
