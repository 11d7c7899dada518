// The HTML report's topology section (with --k8s): per node, where its picks went and what kube-proxy should use
// there; per backend, its picks beside what the topology implies. The JSON's `topology`, as tables.
import { count, esc, pct } from './html-svg.js';
import type { ServiceReport } from './types.js';

export function topologyHtml(s: ServiceReport): string {
  const t = s.topology;
  if (!t) return '';
  const nodes = t.nodes
    .map((n) => {
      const note = [
        n.fallback ?? '',
        n.rules ? `rules: ${n.rules.extra.length} extra, ${n.rules.missing.length} missing` : '',
      ]
        .filter(Boolean)
        .join('; ');
      const use =
        n.expected.mode === 'all'
          ? `all (${n.expected.count})`
          : `${n.expected.mode}: ${n.expected.endpoints.join(', ') || 'none (dropped)'}`;
      return `<tr><td class="mono">${esc(n.node)}</td><td>${esc(n.zone ?? 'none')}</td><td class="num">${count(n.selections)}</td><td class="num">${count(n.sameNode)}</td><td class="num">${count(n.sameZone)}</td><td class="num">${count(n.crossZone)}</td><td class="mono">${esc(use)}</td><td>${note ? `<span class="badge warn">${esc(note)}</span>` : ''}</td></tr>`;
    })
    .join('');
  const backends = t.backends
    .map(
      (b) =>
        `<tr><td class="mono">${esc(b.backend)}</td><td>${esc(b.zone ?? 'unknown')}</td><td class="num">${count(b.selections)}</td><td class="num">${b.expectedSelections}</td></tr>`,
    )
    .join('');
  const asked = t.distribution ? `, trafficDistribution ${esc(t.distribution)}` : '';
  return `<h3>Topology: ${pct(t.sameZoneShare)} of picks in the picking node's zone</h3>
<p class="explain">Policy ${esc(t.policy)}${asked}: ${count(t.sameZone)} picks in the node's zone, ${count(t.crossZone)} across zones, ${count(t.sameNode)} on the node itself${t.unknownZone ? `, ${count(t.unknownZone)} in an unknown zone` : ''}.</p>
<table class="summary" data-table="topology-nodes"><thead><tr><th>Node</th><th>Zone</th><th class="num">Picks</th><th class="num">Same node</th><th class="num">Same zone</th><th class="num">Cross zone</th><th>kube-proxy should use</th><th></th></tr></thead>
<tbody>${nodes}</tbody></table>
<table class="summary" data-table="topology-backends"><thead><tr><th>Backend</th><th>Zone</th><th class="num">Picks</th><th class="num">Expected by the topology</th></tr></thead>
<tbody>${backends}</tbody></table>`;
}
