// One Service opened: its backends with shares, its clients with their current
// backend and latest switch, and selections over the window as a sparkline. Both
// tables show only the rows that fit and scroll; every line is cut at the width.
import { Box, Text } from 'ink';
import type { BackendShare, ClientRow, ServiceDetail, ServiceRow, Verdict } from './view-model.js';
import type { DetailPane } from './ui-state.js';
import { useScrollWindow, useSortedClients } from './hooks.js';
import {
  affinityText,
  ago,
  bytesRate,
  clip,
  count,
  duration,
  fit,
  isSkewed,
  percent,
  rate,
  ratio,
  seconds,
  verdictText,
} from './format.js';
import { shareBar, sparkline } from './glyphs.js';

const verdictColor: Record<Verdict, string | undefined> = {
  held: 'green',
  violation: 'red',
  forcedRepick: 'yellow',
  expired: undefined,
  pending: 'yellow',
};

export interface ServiceDetailProps {
  detail: ServiceDetail;
  /** The table the moving keys scroll: its heading is highlighted and its cursor shown. */
  pane: DetailPane;
  backendCursor: number;
  clientCursor: number;
  /** Backend and client rows that fit (useDetailRows): the detail never outgrows the screen. */
  rows: { backends: number; clients: number };
  columns: number;
  now: number | null;
}

/** The oldest open connection's age; ">40s" when its start is not known (it began before we heard of it). */
function oldest(load: NonNullable<BackendShare['load']>, now: number | null): string {
  if (load.oldestStart === null || now === null) return '-';
  return `${load.oldestKnown === false ? '>' : ''}${duration((now - load.oldestStart) / 1e6)}`;
}

/** Where no node counts bytes: why, and how to count them. */
const BYTES_OFF =
  "bytes unavailable: nf_conntrack_acct is off on the nodes; 'sysctl net.netfilter.nf_conntrack_acct=1' counts the connections that begin after it";

/** Whether no node counts the Service's bytes (its line then takes one line from the tables: app.tsx). */
export function bytesOff(row: ServiceRow): boolean {
  return row.backends.some((b) => b.load?.bytesPerSecond === null);
}

export function ServiceDetailView({
  detail,
  pane,
  backendCursor,
  clientCursor,
  rows,
  columns,
  now,
}: ServiceDetailProps) {
  const { row } = detail;
  const clients = useSortedClients(detail.clients);
  const multiNode = row.nodes.length > 1 || new Set(clients.map((c) => c.node)).size > 1;
  const b = useScrollWindow(backendCursor, row.backends.length, rows.backends);
  const c = useScrollWindow(clientCursor, clients.length, rows.clients);
  // IPv4 fits the narrow columns; IPv6 addresses widen them to what the rows on screen need (at most a full address).
  const backendWidth = widest(
    row.backends.slice(b.start, b.end).map((x) => x.backend),
    22,
    47,
  );
  const clientWidth = widest(
    clients.slice(c.start, c.end).map((x) => (multiNode ? `${x.client}@${x.node}` : x.client)),
    16,
    52,
  );
  const live = row.live !== undefined;
  // LIVE, BYTES/S and OLDEST take 22 cells when there are live figures.
  const podWidth = Math.max(6, Math.min(40, columns - 48 - backendWidth - (live ? 22 : 0)));
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text bold inverse>
          {' '}
          {clip(row.name ?? row.service, 60)}{' '}
        </Text>
        {row.name ? `  ${clip(row.service, 48)}` : ''}
        {'  '}affinity {affinityText(row.affinity)}
        {'  '}nodes {clip(row.nodes.join(', ') || '-', columns)}
      </Text>
      <Text wrap="truncate-end">
        {row.selections} selections, {rate(row.selectionsPerSecond)}/s{'  '}
        sticky {percent(row.stickiness)} (random {percent(row.expectedRandom)}){'  '}
        <Text color={row.violations > 0 ? 'red' : undefined} bold={row.violations > 0}>
          violations {row.violations}
        </Text>
        {row.pending > 0 ? (
          <Text color="yellow">{`  pending ${row.pending} (waiting for the node's rules)`}</Text>
        ) : null}
      </Text>
      {/* A line of its own: the verdict names its units and, when too few, the raw counts. */}
      <Text wrap="truncate-end" color={isSkewed(row) ? 'yellow' : undefined}>
        spread {row.spread.text}
        {row.maxOverMean === null ? '' : `  max/mean ${ratio(row.maxOverMean)}`}
      </Text>
      {live ? (
        <Text wrap="truncate-end">
          {count(row.live ?? 0)} connections open now
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
      {detail.frontends ? (
        <Text wrap="truncate-end">
          <Text dimColor>frontends </Text>
          {clip(detail.frontends.map((f) => `${f.address} ${f.selections}`).join('  '), columns)}
          {detail.families ? `  IPv4 ${detail.families.ipv4}  IPv6 ${detail.families.ipv6}` : ''}
        </Text>
      ) : detail.families ? (
        <Text wrap="truncate-end">
          <Text dimColor>addresses </Text>
          {clip(detail.families.addresses.join('  '), columns)}
          {'  '}IPv4 {detail.families.ipv4}
          {'  '}IPv6 {detail.families.ipv6}
        </Text>
      ) : null}
      <Text wrap="truncate-end">
        <Text dimColor>selections per {seconds(detail.bucketSeconds)} </Text>
        <Text color="cyan">{sparkline(detail.sparkline)}</Text>
      </Text>
      {detail.affinitySets.length > 0 ? (
        <Text wrap="truncate-end">
          <Text dimColor>affinity sets </Text>
          {detail.affinitySets.map((a, i) => (
            <Text key={`${a.node}|${a.endpoint}`} color={a.elements >= a.size ? 'red' : undefined}>
              {i > 0 ? '  ' : ''}
              {multiNode ? `${clip(a.node, 12)} ` : ''}
              {clip(a.endpoint, 24)} {a.elements}/{a.size} {percent(a.size > 0 ? a.elements / a.size : null)}
            </Text>
          ))}
        </Text>
      ) : null}
      <Text bold wrap="truncate-end" color={pane === 'backends' ? 'cyan' : undefined}>
        {'  '}
        {fit('BACKEND', backendWidth)} {fit('POD', podWidth)} {fit('SHARE', 32)} {fit('SELECTIONS', live ? 10 : 0)}
        {live ? ` ${'LIVE'.padStart(5)} ${'BYTES/S'.padStart(7)} ${'OLDEST'.padStart(6)}` : ''}
      </Text>
      {row.backends.slice(b.start, b.end).map((be, i) => {
        const selected = pane === 'backends' && b.start + i === backendCursor;
        return (
          <Text key={be.backend} inverse={selected} wrap="truncate-end">
            <Text color="cyan">{selected ? '›' : ' '}</Text> {fit(be.backend, backendWidth)}{' '}
            {fit(be.pod ?? '-', podWidth)} <Text color="blue">{shareBar(be.share, 25)}</Text>{' '}
            {fit(percent(be.share), 6)} {live ? fit(String(be.selections), 10) : be.selections}
            {be.load ? (
              <Text color={be.load.live === 0 ? 'yellow' : undefined}>
                {' '}
                {count(be.load.live).padStart(5)} {bytesRate(be.load.bytesPerSecond).padStart(7)}{' '}
                {oldest(be.load, now).padStart(6)}
              </Text>
            ) : null}
          </Text>
        );
      })}
      {row.backends.length > b.end - b.start ? (
        <Text dimColor wrap="truncate-end">
          {'  '}backends {b.start + 1}-{b.end} of {row.backends.length}, {row.backends.length - (b.end - b.start)} more
          (address order; {pane === 'backends' ? '↑↓ PgUp PgDn scroll' : 'Tab to scroll'})
        </Text>
      ) : null}
      <Text bold wrap="truncate-end" color={pane === 'clients' ? 'cyan' : undefined}>
        {'  '}
        {fit('CLIENT', clientWidth)} {fit('BACKEND', backendWidth + 2)} {fit('PICKS', 6)} {fit('STICKY', 6)}{' '}
        {live ? `${fit('OPEN', 5)} ` : ''}
        {fit('LAST PICK', 10)} LAST SWITCH
      </Text>
      {clients.length === 0 ? <Text dimColor> no clients yet</Text> : null}
      {clients.slice(c.start, c.end).map((cl, i) => (
        <ClientLine
          key={`${cl.node}|${cl.client}`}
          client={cl}
          selected={pane === 'clients' && c.start + i === clientCursor}
          now={now}
          showNode={multiNode}
          widths={[clientWidth, backendWidth + 2]}
        />
      ))}
      {clients.length > c.end - c.start ? (
        <Text dimColor wrap="truncate-end">
          {'  '}clients {c.start + 1}-{c.end} of {clients.length} listed (the most recently active),{' '}
          {clients.length - (c.end - c.start)} more ({pane === 'clients' ? '↑↓ PgUp PgDn scroll' : 'Tab to scroll'})
        </Text>
      ) : null}
    </Box>
  );
}

interface ClientLineProps {
  client: ClientRow;
  selected: boolean;
  now: number | null;
  showNode: boolean;
  /** The CLIENT and BACKEND columns. */
  widths: [number, number];
}

/** The widest of `texts`, kept within [min, max]. */
function widest(texts: string[], min: number, max: number): number {
  let w = min;
  for (const t of texts) if (t.length > w) w = t.length;
  return Math.min(w, max);
}

function ClientLine({ client: c, selected, now, showNode, widths }: ClientLineProps) {
  const sw = c.lastSwitch;
  return (
    <Text inverse={selected} wrap="truncate-end">
      <Text color="cyan">{selected ? '›' : ' '}</Text> {fit(showNode ? `${c.client}@${c.node}` : c.client, widths[0])}{' '}
      {fit(c.pod ?? c.backend, widths[1])} {fit(count(c.picks), 6)} {fit(percent(c.stickiness), 6)}{' '}
      {c.live !== undefined ? `${fit(count(c.live), 5)} ` : ''}
      {fit(Number.isNaN(c.lastSelection) ? '-' : ago(c.lastSelection, now), 10)}{' '}
      {sw ? (
        <Text>
          <Text color={sw.verdict ? verdictColor[sw.verdict] : undefined} bold={sw.verdict === 'violation'}>
            {sw.verdict ? verdictText[sw.verdict] : 'moved'}
          </Text>{' '}
          {ago(sw.ts, now)} from {clip(sw.from, 48)}
        </Text>
      ) : (
        <Text dimColor>{Number.isNaN(c.lastSelection) ? 'open since before tracing' : 'never switched'}</Text>
      )}
    </Text>
  );
}
