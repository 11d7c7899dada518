// One row per Service: affinity, rate, a share bar per backend (the largest few when
// there are many), spread verdict, stickiness beside 1/K, violations, nodes reporting.
// Each row is one line cut at the terminal's width, never wrapped.
import { useMemo } from 'react';
import { Box, Text } from 'ink';
import type { BackendShare, LoadMeasure, ServiceRow } from './view-model.js';
import type { SortKey } from './hooks.js';
import { useScrollWindow } from './hooks.js';
import { affinityText, clip, count, fit, isSkewed, percent, rate, ratio, staleText } from './format.js';
import { shareBar } from './glyphs.js';
import { topN } from './top-n.js';
import { refusalText } from '../aggregator/refused.js';

export interface ServicesViewProps {
  rows: ServiceRow[];
  cursor: number;
  sort: SortKey;
  /** What the share bars measure. */
  measure?: LoadMeasure;
  filter: string;
  height: number;
  columns: number;
  totalServices: number;
}

/** Widths of the fixed columns: cursor, SEL/S, LIVE, MAX/M, SPREAD, STICKY (1/K), VIOL, TOPO, AFFINITY, NODES. */
const W = { cursor: 1, rate: 6, live: 5, maxm: 5, spread: 16, sticky: 12, viol: 5, topo: 5, affinity: 13, nodes: 5 };
/**
 * The columns never dropped, and the gaps after them: the cursor, SEL/S, SPREAD, STICKY and VIOL. With the name, they
 * are what an 80-column terminal must show whole.
 */
const CORE_CELLS = W.cursor + 1 + W.rate + 1 + W.spread + 1 + W.sticky + 1 + W.viol;

/** The bars' heading for each measure. */
const BARS_HEADING: Record<LoadMeasure, string> = {
  new: 'SHARE PER BACKEND',
  open: 'OPEN NOW',
  bytes: 'BYTES',
};

/** A backend's share of the Service's new connections, open connections or bytes (0 without live figures). */
function shareOf(b: BackendShare, measure: LoadMeasure): number {
  return measure === 'new' ? b.share : measure === 'open' ? (b.load?.liveShare ?? 0) : (b.load?.bytesShare ?? 0);
}
const MIN_NAME = 14;
/** Longer names are cut (the detail shows them whole). */
const MAX_NAME = 36;
const MIN_BARS = 8;
/** The bars keep this much before AFFINITY and NODES take room. */
const COMFORTABLE_BARS = 16;
const MAX_BARS = 60;

export interface RowLayout {
  name: number;
  /** 0: no bars. */
  bars: number;
  /** Optional columns, shown when the terminal is wide enough (AFFINITY is in the detail too). */
  maxm: boolean;
  affinity: boolean;
  nodes: boolean;
  /** LIVE: shown whenever some node reads its conntrack table. */
  live: boolean;
  /** TOPO: with the API's catalog (--k8s), when the terminal is wide enough. */
  topo: boolean;
}

/**
 * Which columns fit `columns` cells, so that a row never exceeds them. The name (as long as the longest, within
 * MAX_NAME), SEL/S, LIVE, SPREAD, STICKY and VIOL come first; as the terminal narrows NODES goes first, then AFFINITY,
 * then MAX/M, then the bars; only then is the name cut.
 */
function rowLayout(columns: number, live: boolean, longestName: number, hasTopo = false): RowLayout {
  let rest = columns - CORE_CELLS - 1 - (live ? W.live + 1 : 0);
  const name = Math.max(1, Math.min(Math.max(MIN_NAME, Math.min(MAX_NAME, longestName)), rest));
  rest -= name;
  const take = (cells: number, keep = 0) => {
    if (rest - cells < keep) return false;
    rest -= cells;
    return true;
  };
  const bars = take(MIN_BARS + 1);
  const maxm = bars && take(W.maxm + 1);
  const topo = hasTopo && maxm && take(W.topo + 1, COMFORTABLE_BARS - MIN_BARS);
  const affinity = maxm && take(W.affinity + 1, COMFORTABLE_BARS - MIN_BARS);
  const nodes = affinity && take(W.nodes + 1, COMFORTABLE_BARS - MIN_BARS);
  return { name, bars: bars ? Math.min(MAX_BARS, MIN_BARS + rest) : 0, maxm, affinity, nodes, live, topo };
}

/**
 * The bars of one row, exactly `budget` cells: one bar per backend, each `share` of its
 * width, when they all fit; otherwise the largest shares (a partial selection, not a
 * sort of thousands per frame) and "+N more".
 */
export function backendBars(row: ServiceRow, budget: number, measure: LoadMeasure = 'new'): string {
  const k = row.backends.length;
  if (k === 0) return fit(row.noEndpoints ? refusalText(row.noEndpoints, 0) : '(no endpoints)', budget);
  if (measure !== 'new' && row.live === undefined) return fit('(no live connections: no conntrack source)', budget);
  if (measure === 'bytes' && row.backends.some((b) => b.load?.bytesPerSecond === null))
    return fit('(bytes unavailable: nf_conntrack_acct is off on the nodes)', budget);
  const share = (b: BackendShare) => shareOf(b, measure);
  const width = Math.max(3, Math.floor((budget - (k - 1)) / k));
  if (k * (width + 1) - 1 <= budget) return fit(row.backends.map((b) => shareBar(share(b), width)).join('│'), budget);
  const more = (n: number) => (budget >= 16 ? ` +${n} more` : ` +${n}`);
  const n = Math.max(1, Math.floor((budget - more(k).length + 1) / (width + 1)));
  const bars = topN(row.backends, n, share).map((b) => shareBar(share(b), width));
  return fit(bars.join('│') + more(k - n), budget);
}

/** The same-zone share, "!" where a node falls back; "-" without zoned picks or the API's catalog. */
function topoText(t: ServiceRow['topo']): string {
  if (!t) return '-';
  return `${t.sameZoneShare === null ? '-' : `${Math.round(t.sameZoneShare * 100)}%`}${t.fallback ? '!' : ''}`;
}

export function ServicesView(props: ServicesViewProps) {
  const { rows, cursor, sort, height, columns } = props;
  const measure = props.measure ?? 'new';
  const live = rows.some((r) => r.live !== undefined);
  // Over every row, not those on screen: the column keeps its width while scrolling.
  const longest = useMemo(() => rows.reduce((w, r) => Math.max(w, (r.name ?? r.service).length), 0), [rows]);
  const layout = rowLayout(
    columns,
    live,
    longest,
    rows.some((r) => r.topo !== undefined),
  );
  const { start, end } = useScrollWindow(cursor, rows.length, height - 1);
  const heading = (key: SortKey | null, text: string, width: number) => (
    <Text bold underline={sort === key}>
      {fit(text, width)}
    </Text>
  );
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        {'  '}
        {heading('name', 'SERVICE', layout.name)}{' '}
        {layout.affinity ? <>{heading(null, 'AFFINITY', W.affinity)} </> : null}
        {heading('rate', ' SEL/S', W.rate)} {layout.live ? <>{heading(null, ' LIVE', W.live)} </> : null}
        {layout.bars > 0 ? <>{heading(null, BARS_HEADING[measure], layout.bars)} </> : null}
        {layout.maxm ? <>{heading(null, 'MAX/M', W.maxm)} </> : null}
        {heading('skew', 'SPREAD', W.spread)} {heading(null, 'STICKY (1/K)', W.sticky)}{' '}
        {heading('violations', 'VIOL', W.viol)}
        {layout.topo ? <> {heading(null, 'TOPO', W.topo)}</> : null}
        {layout.nodes ? <> {heading(null, 'NODES', W.nodes)}</> : null}
      </Text>
      {rows.length === 0 ? (
        <Text dimColor wrap="truncate-end">
          {' '}
          {props.totalServices === 0 ? 'waiting for selections…' : `no service matches '${clip(props.filter, 40)}'`}
        </Text>
      ) : null}
      {rows.slice(start, end).map((row, i) => (
        <ServiceLine key={row.service} row={row} selected={start + i === cursor} layout={layout} measure={measure} />
      ))}
    </Box>
  );
}

interface ServiceLineProps {
  row: ServiceRow;
  selected: boolean;
  layout: RowLayout;
  measure: LoadMeasure;
}

/** Cells from SEL/S to MAX/M: where a stale row says since when it has no data instead of its last rates. */
function ratesWidth(layout: RowLayout): number {
  return (
    W.rate + (layout.live ? W.live + 1 : 0) + (layout.bars > 0 ? layout.bars + 1 : 0) + (layout.maxm ? W.maxm + 1 : 0)
  );
}

/** SEL/S, LIVE, the bars and MAX/M of a row with data, each followed by its gap. */
function Rates({ row, layout, measure }: Omit<ServiceLineProps, 'selected'>) {
  return (
    <>
      {rate(row.selectionsPerSecond).padStart(W.rate)}{' '}
      {layout.live ? (
        <>
          <Text color={row.predating ? 'yellow' : undefined}>
            {(row.live === undefined ? '-' : count(row.live)).padStart(W.live)}
          </Text>{' '}
        </>
      ) : null}
      {layout.bars > 0 ? (
        <>
          <Text color="blue">{backendBars(row, layout.bars, measure)}</Text>{' '}
        </>
      ) : null}
      {layout.maxm ? <>{fit(row.maxOverMean === null ? '-' : ratio(row.maxOverMean), W.maxm)} </> : null}
    </>
  );
}

function ServiceLine({ row, selected, layout, measure }: ServiceLineProps) {
  const stale = row.stale !== undefined;
  return (
    <Text wrap="truncate-end" dimColor={stale}>
      <Text color="cyan">{selected ? '›' : ' '}</Text>{' '}
      <Text inverse={selected} bold={selected}>
        {fit(row.name ?? row.service, layout.name)}
      </Text>{' '}
      {layout.affinity ? <>{fit(affinityText(row.affinity), W.affinity)} </> : null}
      {/* A stale row's rates would read as live: its nodes are down, so it says since when instead. */}
      {stale ? (
        `${fit(staleText(row.stale!.since), ratesWidth(layout))} `
      ) : (
        <Rates row={row} layout={layout} measure={measure} />
      )}
      {/* The verdict's words; its counts are in the detail view. */}
      <Text color={isSkewed(row) ? 'yellow' : undefined} dimColor={row.spread.verdict === 'tooFew'}>
        {fit(row.spread.head, W.spread)}
      </Text>{' '}
      {fit(`${percent(row.stickiness)} (${percent(row.expectedRandom)})`, W.sticky)}{' '}
      {row.violations > 0 ? (
        <Text color="red" bold>
          {fit(count(row.violations), W.viol)}
        </Text>
      ) : (
        <Text dimColor>{fit('0', W.viol)}</Text>
      )}
      {layout.topo ? (
        <>
          {' '}
          <Text color={row.topo?.fallback ? 'yellow' : undefined}>{fit(topoText(row.topo), W.topo)}</Text>
        </>
      ) : null}
      {layout.nodes ? <> {fit(count(row.nodes.length), W.nodes)}</> : null}
    </Text>
  );
}
