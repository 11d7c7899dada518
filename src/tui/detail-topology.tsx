// The opened Service's topology (with --k8s): where the window's picks went by zone, then one line per node that
// falls back or whose rules differ from what kube-proxy should hold (at most MAX_NODE_LINES; the report has them all).
import { Text } from 'ink';
import type { TopologyFigures } from '../aggregator/topology.js';
import { clip, percent } from './format.js';

const MAX_NODE_LINES = 3;

/** The nodes worth a line of their own. */
const notable = (t: TopologyFigures) => t.nodes.filter((n) => n.fallback || n.rules).slice(0, MAX_NODE_LINES);

/** Lines the topology takes in the detail (0 without the API's catalog). */
export function topologyLineCount(t: TopologyFigures | null): number {
  return t ? 1 + notable(t).length : 0;
}

export function TopologyLines({ topology: t, last }: { topology: TopologyFigures | null; last: string }) {
  if (!t) return null;
  const asked = t.distribution ? ` ${t.distribution}` : t.policy === 'Local' ? ' Local' : '';
  return (
    <>
      <Text wrap="truncate-end">
        <Text dimColor>{last}: </Text>
        topology{asked}: {percent(t.sameZoneShare)} same zone ({t.sameZone} picks), {t.crossZone} cross-zone,{' '}
        {t.sameNode} same node
        {t.unknownZone > 0 ? `, ${t.unknownZone} zone unknown` : ''}
      </Text>
      {notable(t).map((n) => (
        <Text key={n.node} wrap="truncate-end" color="yellow">
          {'  '}
          {clip(n.node, 24)}
          {n.zone ? ` (${clip(n.zone, 16)})` : ' (no zone)'}: {n.fallback ? n.fallback : ''}
          {n.fallback && n.rules ? '; ' : ''}
          {n.rules ? `rules hold ${n.rules.extra.length} extra, ${n.rules.missing.length} missing` : ''}
        </Text>
      ))}
    </>
  );
}
