// One row per Service: affinity, rate, a share bar per backend, spread verdict,
// stickiness beside 1/K, violations, nodes reporting.
import { Box, Text } from 'ink';
import type { ServiceRow } from './view-model.js';
import type { SortKey } from './hooks.js';
import { useScrollWindow } from './hooks.js';
import { affinityText, fit, isSkewed, percent, rate, spreadVerdict } from './format.js';
import { shareBar } from './glyphs.js';

export interface ServicesViewProps {
  rows: ServiceRow[];
  cursor: number;
  sort: SortKey;
  filter: string;
  height: number;
  columns: number;
  totalServices: number;
}

/** Cells of the fixed columns (cursor, affinity, rate, max/mean, spread, sticky, violations, nodes) and the gaps. */
const FIXED_CELLS = 1 + 13 + 6 + 5 + 15 + 12 + 5 + 5 + 9;

/** Widths of the two flexible columns: the name and the backend bars share what is left. */
export function rowLayout(columns: number): { name: number; bars: number } {
  const rest = columns - FIXED_CELLS;
  const name = Math.max(14, Math.min(36, Math.floor(rest * 0.4)));
  return { name, bars: Math.max(8, Math.min(60, rest - name)) };
}

/** The bars of one row: as many backends as fit, each bar `share` of its width, then "+n" for the rest. */
export function backendBars(row: ServiceRow, budget: number): string {
  const k = row.backends.length;
  if (k === 0) return fit('(no endpoints)', budget);
  const width = Math.max(3, Math.floor((budget - (k - 1)) / k));
  const fits = Math.max(1, Math.floor((budget + 1) / (width + 1)));
  const shown = row.backends.slice(0, k <= fits ? k : Math.max(1, fits - 1));
  const bars = shown.map((b) => shareBar(b.share, width)).join('│');
  return fit(k > shown.length ? `${bars} +${k - shown.length}` : bars, budget);
}

export function ServicesView(props: ServicesViewProps) {
  const { rows, cursor, sort, height, columns } = props;
  const layout = rowLayout(columns);
  const { start, end } = useScrollWindow(cursor, rows.length, height - 1);
  const heading = (key: SortKey, text: string, width: number) => (
    <Text bold underline={sort === key}>
      {fit(text, width)}
    </Text>
  );
  return (
    <Box flexDirection="column">
      <Box gap={1}>
        <Text> </Text>
        {heading('name', 'SERVICE', layout.name)}
        <Text bold>{fit('AFFINITY', 13)}</Text>
        {heading('rate', ' SEL/S', 6)}
        <Text bold>{fit('SHARE PER BACKEND', layout.bars)}</Text>
        <Text bold>{fit('MAX/M', 5)}</Text>
        {heading('skew', 'SPREAD', 15)}
        <Text bold>{fit('STICKY (1/K)', 12)}</Text>
        {heading('violations', 'VIOL', 5)}
        <Text bold>NODES</Text>
      </Box>
      {rows.length === 0 ? (
        <Text dimColor>
          {' '}
          {props.totalServices === 0 ? 'waiting for selections…' : `no service matches '${props.filter}'`}
        </Text>
      ) : null}
      {rows.slice(start, end).map((row, i) => (
        <ServiceLine key={row.service} row={row} selected={start + i === cursor} layout={layout} />
      ))}
    </Box>
  );
}

function ServiceLine({
  row,
  selected,
  layout,
}: {
  row: ServiceRow;
  selected: boolean;
  layout: { name: number; bars: number };
}) {
  return (
    <Box gap={1}>
      <Text color="cyan">{selected ? '›' : ' '}</Text>
      <Text inverse={selected} bold={selected}>
        {fit(row.name ?? row.service, layout.name)}
      </Text>
      <Text>{fit(affinityText(row.affinity), 13)}</Text>
      <Text>{rate(row.selectionsPerSecond).padStart(6)}</Text>
      <Text color="blue">{backendBars(row, layout.bars)}</Text>
      <Text>{fit(row.maxOverMean === null ? '-' : row.maxOverMean.toFixed(2), 5)}</Text>
      <Text color={isSkewed(row) ? 'yellow' : undefined}>{fit(spreadVerdict(row), 15)}</Text>
      <Text>{fit(`${percent(row.stickiness)} (${percent(row.expectedRandom)})`, 12)}</Text>
      {row.violations > 0 ? (
        <Text color="red" bold>
          {fit(String(row.violations), 5)}
        </Text>
      ) : (
        <Text dimColor>{fit('0', 5)}</Text>
      )}
      <Text>{row.nodes.length}</Text>
    </Box>
  );
}
