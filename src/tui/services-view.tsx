// One row per Service: affinity, rate, a share bar per backend (the largest few when
// there are many), spread verdict, stickiness beside 1/K, violations, nodes reporting.
// Each row is one line cut at the terminal's width, never wrapped.
import { Box, Text } from 'ink';
import type { BackendShare, LoadMeasure, ServiceRow } from './view-model.js';
import type { SortKey } from './hooks.js';
import { useScrollWindow } from './hooks.js';
import { affinityText, clip, count, fit, isSkewed, percent, rate, ratio } from './format.js';
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

/** Widths of the columns always shown: cursor, SEL/S, MAX/M, SPREAD, STICKY (1/K), VIOL; LIVE with live figures. */
const W = { cursor: 1, rate: 6, live: 5, maxm: 5, spread: 16, sticky: 12, viol: 5, affinity: 13, nodes: 5 };
/** Those columns and the gaps after them (the name and the bars add one gap each). */
const FIXED_CELLS = W.cursor + W.rate + W.maxm + W.spread + W.sticky + W.viol + 5;

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
const MIN_BARS = 8;

export interface RowLayout {
  name: number;
  bars: number;
  /** Optional columns, shown when the terminal is wide enough (AFFINITY is in the detail too). */
  affinity: boolean;
  nodes: boolean;
  /** LIVE: shown whenever some node reads its conntrack table. */
  live: boolean;
}

/**
 * Widths of the two flexible columns, and which optional columns fit, so that a row never exceeds `columns`. With
 * live figures, LIVE is fixed and the optional columns give way first.
 */
function rowLayout(columns: number, live = false): RowLayout {
  let rest = columns - FIXED_CELLS - 2 - (live ? W.live + 1 : 0);
  const affinity = rest - (W.affinity + 1) >= MIN_NAME + MIN_BARS;
  if (affinity) rest -= W.affinity + 1;
  // NODES gives way first: at 80 columns the bars keep room for "+N more" beside the widened SPREAD.
  const nodes = rest - (W.nodes + 1) >= MIN_NAME + MIN_BARS + 2;
  if (nodes) rest -= W.nodes + 1;
  const name = Math.max(MIN_NAME, Math.min(36, Math.floor(rest * 0.4)));
  return { name, bars: Math.max(MIN_BARS, Math.min(60, rest - name)), affinity, nodes, live };
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

export function ServicesView(props: ServicesViewProps) {
  const { rows, cursor, sort, height, columns } = props;
  const measure = props.measure ?? 'new';
  const layout = rowLayout(
    columns,
    rows.some((r) => r.live !== undefined),
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
        {heading(null, BARS_HEADING[measure], layout.bars)} {heading(null, 'MAX/M', W.maxm)}{' '}
        {heading('skew', 'SPREAD', W.spread)} {heading(null, 'STICKY (1/K)', W.sticky)}{' '}
        {heading('violations', 'VIOL', W.viol)}
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

function ServiceLine({ row, selected, layout, measure }: ServiceLineProps) {
  return (
    <Text wrap="truncate-end">
      <Text color="cyan">{selected ? '›' : ' '}</Text>{' '}
      <Text inverse={selected} bold={selected}>
        {fit(row.name ?? row.service, layout.name)}
      </Text>{' '}
      {layout.affinity ? <>{fit(affinityText(row.affinity), W.affinity)} </> : null}
      {rate(row.selectionsPerSecond).padStart(W.rate)}{' '}
      {layout.live ? (
        <>
          <Text color={row.predating ? 'yellow' : undefined}>
            {(row.live === undefined ? '-' : count(row.live)).padStart(W.live)}
          </Text>{' '}
        </>
      ) : null}
      <Text color="blue">{backendBars(row, layout.bars, measure)}</Text>{' '}
      {fit(row.maxOverMean === null ? '-' : ratio(row.maxOverMean), W.maxm)}{' '}
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
      {layout.nodes ? <> {fit(count(row.nodes.length), W.nodes)}</> : null}
    </Text>
  );
}
