// The lines above a Service's tables: its name, the window's figures, and what is true now, each labelled with the
// span it counts (the window, the last seconds, now), since they mix windows.
import { TopologyLines } from './detail-topology.js';
import { Text } from 'ink';
import type { ServiceDetail, ServiceRow } from './view-model.js';
import { affinityText, clip, count, isSkewed, percent, rate, ratio, seconds, staleText } from './format.js';
import { sparkline } from './glyphs.js';

/** Seconds SEL/S averages over (aggregator/queries.ts). */
const RATE_SECONDS = 5;

export interface DetailSummaryProps {
  detail: ServiceDetail;
  columns: number;
  /** Clients came through several nodes: the affinity sets name their node. */
  multiNode: boolean;
}

/** The label of what the window's figures count: "last 1m", or less while the events cover less. */
export function windowLabel(detail: Pick<ServiceDetail, 'windowSeconds'>): string {
  return `last ${seconds(Math.max(0, detail.windowSeconds))}`;
}

/** Where no node counts bytes: why, and how to count them. */
const BYTES_OFF =
  "bytes unavailable: nf_conntrack_acct is off on the nodes; 'sysctl net.netfilter.nf_conntrack_acct=1' counts the connections that begin after it";

/** Whether no node counts the Service's bytes (its line then takes one line from the tables: hooks.ts). */
export function bytesOff(row: ServiceRow): boolean {
  return row.backends.some((b) => b.load?.bytesPerSecond === null);
}

export function DetailSummary({ detail, columns, multiNode }: DetailSummaryProps) {
  const { row } = detail;
  const last = windowLabel(detail);
  return (
    <>
      <Text wrap="truncate-end">
        <Text bold inverse>
          {' '}
          {clip(row.name ?? row.service, 60)}{' '}
        </Text>
        {row.name ? `  ${clip(row.service, 48)}` : ''}
        {'  '}affinity {affinityText(row.affinity)}
        {'  '}nodes {clip(row.nodes.join(', ') || '-', columns)}
      </Text>
      {row.stale ? (
        <Text wrap="truncate-end" color="yellow">
          {staleText(row.stale.since)}: {clip(row.stale.nodes.join(', '), 60)} down; the figures are the last seen
        </Text>
      ) : null}
      <Text wrap="truncate-end">
        <Text dimColor>{last}: </Text>
        {row.selections} selections{'  '}sticky {percent(row.stickiness)} (random {percent(row.expectedRandom)}){'  '}
        <Text color={row.violations > 0 ? 'red' : undefined} bold={row.violations > 0}>
          violations {row.violations}
        </Text>
        {row.pending > 0 ? (
          <Text color="yellow">{`  pending ${row.pending} (waiting for the node's rules)`}</Text>
        ) : null}
        <Text dimColor>{`  last ${RATE_SECONDS}s: `}</Text>
        {row.stale ? '-' : `${rate(row.selectionsPerSecond)}/s`}
      </Text>
      {/* A line of its own: the verdict names its units and, when too few, the raw counts. */}
      <Text wrap="truncate-end" color={isSkewed(row) ? 'yellow' : undefined}>
        <Text dimColor>{last}: </Text>
        spread {row.spread.text}
        {row.maxOverMean === null ? '' : `  max/mean ${ratio(row.maxOverMean)}`}
      </Text>
      {row.live !== undefined ? (
        <Text wrap="truncate-end">
          <Text dimColor>now: </Text>
          {count(row.live)} connections open
          {row.predating ? (
            <Text color="yellow" bold>
              {'  '}
              {row.predating}
            </Text>
          ) : null}
        </Text>
      ) : null}
      {bytesOff(row) ? (
        <Text wrap="truncate-end" color="yellow">
          {BYTES_OFF}
        </Text>
      ) : null}
      <TopologyLines topology={detail.topology} last={last} />
      <Addresses detail={detail} columns={columns} last={last} />
      <Text wrap="truncate-end">
        <Text dimColor>
          {last}: selections per {bucketText(detail.bucketSeconds)}{' '}
        </Text>
        <Text color="cyan">{sparkline(detail.sparkline)}</Text>
      </Text>
      {detail.affinitySets.length > 0 ? (
        <Text wrap="truncate-end">
          <Text dimColor>now: affinity sets </Text>
          {detail.affinitySets.map((a, i) => (
            <Text key={`${a.node}|${a.endpoint}`} color={a.elements >= a.size ? 'red' : undefined}>
              {i > 0 ? '  ' : ''}
              {multiNode ? `${clip(a.node, 12)} ` : ''}
              {clip(a.endpoint, 24)} {a.elements}/{a.size} {percent(a.size > 0 ? a.elements / a.size : null)}
            </Text>
          ))}
        </Text>
      ) : null}
    </>
  );
}

/** A sparkline bucket's width: 5s, 1m, or 0.42s for a short window. */
function bucketText(s: number): string {
  return Number.isInteger(s) ? seconds(s) : `${s.toFixed(s < 10 ? 2 : 1)}s`;
}

/** Selections through each frontend, or by address family, over the window. */
function Addresses({ detail, columns, last }: { detail: ServiceDetail; columns: number; last: string }) {
  if (detail.frontends) {
    return (
      <Text wrap="truncate-end">
        <Text dimColor>{last}: frontends </Text>
        {clip(detail.frontends.map((f) => `${f.address} ${f.selections}`).join('  '), columns)}
        {detail.families ? `  IPv4 ${detail.families.ipv4}  IPv6 ${detail.families.ipv6}` : ''}
      </Text>
    );
  }
  if (!detail.families) return null;
  return (
    <Text wrap="truncate-end">
      <Text dimColor>{last}: addresses </Text>
      {clip(detail.families.addresses.join('  '), columns)}
      {'  '}IPv4 {detail.families.ipv4}
      {'  '}IPv6 {detail.families.ipv6}
    </Text>
  );
}
