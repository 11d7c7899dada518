// One Service opened: its backends with shares, its clients with their current
// backend and latest switch, and selections over the window as a sparkline.
import { Box, Text } from 'ink';
import type { ClientRow, ServiceDetail, Verdict } from './view-model.js';
import { useScrollWindow, useSortedClients } from './hooks.js';
import { affinityText, ago, fit, isSkewed, percent, rate, seconds, spreadVerdict, verdictText } from './format.js';
import { shareBar, sparkline } from './glyphs.js';

const verdictColor: Record<Verdict, string | undefined> = {
  held: 'green',
  violation: 'red',
  forcedRepick: 'yellow',
  expired: undefined,
};

export interface ServiceDetailProps {
  detail: ServiceDetail;
  cursor: number;
  height: number;
  columns: number;
  now: number | null;
}

/** Lines of the detail that are not backend or client rows. */
const FIXED_LINES = 7;

export function ServiceDetailView({ detail, cursor, height, columns, now }: ServiceDetailProps) {
  const { row } = detail;
  const clients = useSortedClients(detail.clients);
  const podOf = new Map(row.backends.map((b) => [b.backend, b.pod]));
  const multiNode = row.nodes.length > 1 || new Set(clients.map((c) => c.node)).size > 1;
  const { start, end } = useScrollWindow(cursor, clients.length, height - row.backends.length - FIXED_LINES);
  const podWidth = Math.max(6, Math.min(40, columns - 70));
  return (
    <Box flexDirection="column">
      <Box gap={2}>
        <Text bold inverse>
          {' '}
          {row.name ?? row.service}{' '}
        </Text>
        {row.name ? <Text>{row.service}</Text> : null}
        <Text>affinity {affinityText(row.affinity)}</Text>
        <Text>nodes {row.nodes.join(', ') || '-'}</Text>
      </Box>
      <Box gap={2}>
        <Text>
          {row.selections} selections, {rate(row.selectionsPerSecond)}/s
        </Text>
        <Text color={isSkewed(row) ? 'yellow' : undefined}>
          {spreadVerdict(row)}
          {row.maxOverMean === null ? '' : ` max/mean ${row.maxOverMean.toFixed(2)}`}
        </Text>
        <Text>
          sticky {percent(row.stickiness)} (random {percent(row.expectedRandom)})
        </Text>
        <Text color={row.violations > 0 ? 'red' : undefined} bold={row.violations > 0}>
          violations {row.violations}
        </Text>
      </Box>
      <Text wrap="truncate-end">
        <Text dimColor>selections per {seconds(detail.bucketSeconds)} </Text>
        <Text color="cyan">{sparkline(detail.sparkline)}</Text>
      </Text>
      <Text bold wrap="truncate-end">
        {fit('BACKEND', 22)} {fit('POD', podWidth)} {fit('SHARE', 32)} SELECTIONS
      </Text>
      {row.backends.map((b) => (
        <Text key={b.backend} wrap="truncate-end">
          {fit(b.backend, 22)} {fit(b.pod ?? '-', podWidth)} <Text color="blue">{shareBar(b.share, 25)}</Text>{' '}
          {fit(percent(b.share), 6)} {b.selections}
        </Text>
      ))}
      <Text bold wrap="truncate-end">
        {'  '}
        {fit('CLIENT', 16)} {fit('BACKEND', 24)} {fit('PICKS', 6)} {fit('STICKY', 6)} {fit('LAST PICK', 10)} LAST SWITCH
      </Text>
      {clients.length === 0 ? <Text dimColor> no clients yet</Text> : null}
      {clients.slice(start, end).map((c, i) => (
        <ClientLine
          key={`${c.node}|${c.client}`}
          client={c}
          selected={start + i === cursor}
          pod={podOf.get(c.backend) ?? null}
          now={now}
          showNode={multiNode}
        />
      ))}
      {clients.length > end - start ? (
        <Text dimColor>
          {'  '}clients {start + 1}-{end} of {clients.length} listed (the most recently active)
        </Text>
      ) : null}
    </Box>
  );
}

interface ClientLineProps {
  client: ClientRow;
  selected: boolean;
  pod: string | null;
  now: number | null;
  showNode: boolean;
}

function ClientLine({ client: c, selected, pod, now, showNode }: ClientLineProps) {
  const sw = c.lastSwitch;
  return (
    <Text inverse={selected} wrap="truncate-end">
      <Text color="cyan">{selected ? '›' : ' '}</Text> {fit(showNode ? `${c.client}@${c.node}` : c.client, 16)}{' '}
      {fit(pod ?? c.backend, 24)} {fit(String(c.picks), 6)} {fit(percent(c.stickiness), 6)}{' '}
      {fit(ago(c.lastSelection, now), 10)}{' '}
      {sw ? (
        <Text>
          <Text color={sw.verdict ? verdictColor[sw.verdict] : undefined} bold={sw.verdict === 'violation'}>
            {sw.verdict ? verdictText[sw.verdict] : 'moved'}
          </Text>{' '}
          {ago(sw.ts, now)} from {sw.from}
        </Text>
      ) : (
        <Text dimColor>never switched</Text>
      )}
    </Text>
  );
}
