// A Service's two tables: its backends with shares and live load, its clients with their current backend and latest
// switch. Each shows the rows that fit and scrolls; a caption says the span each column counts.
import { Text } from 'ink';
import type { BackendShare, ClientRow, ServiceDetail, Verdict } from './view-model.js';
import type { DetailPane } from './ui-state.js';
import { ago, bytesRate, clip, count, duration, fit, percent, verdictText } from './format.js';
import { shareBar } from './glyphs.js';

const verdictColor: Record<Verdict, string | undefined> = {
  held: 'green',
  violation: 'red',
  forcedRepick: 'yellow',
  expired: undefined,
  pending: 'yellow',
};

/** The oldest open connection's age; ">40s" when its start is not known (it began before we heard of it). */
function oldest(load: NonNullable<BackendShare['load']>, now: number | null): string {
  if (load.oldestStart === null || now === null) return '-';
  return `${load.oldestKnown === false ? '>' : ''}${duration((now - load.oldestStart) / 1e6)}`;
}

/** The slice of a table on screen, and where its cursor is. */
interface Slice {
  start: number;
  end: number;
  cursor: number;
}

export interface BackendTableProps {
  detail: ServiceDetail;
  rows: Slice;
  pane: DetailPane;
  /** The BACKEND and POD columns. */
  widths: [number, number];
  now: number | null;
  /** The window's label, "last 1m". */
  last: string;
}

export function BackendTable({ detail, rows: b, pane, widths, now, last }: BackendTableProps) {
  const { backends } = detail.row;
  const live = detail.row.live !== undefined;
  const [backendWidth, podWidth] = widths;
  return (
    <>
      <Text dimColor wrap="truncate-end">
        {'  '}backends: share, selections{live ? ', bytes/s' : ''} over the {last}
        {live ? '; live and oldest connection now' : ''}
      </Text>
      <Text bold wrap="truncate-end" color={pane === 'backends' ? 'cyan' : undefined}>
        {'  '}
        {fit('BACKEND', backendWidth)} {fit('POD', podWidth)} {fit('SHARE', 32)} {fit('SELECTIONS', live ? 10 : 0)}
        {live ? ` ${'LIVE'.padStart(5)} ${'BYTES/S'.padStart(7)} ${'OLDEST'.padStart(6)}` : ''}
      </Text>
      {backends.slice(b.start, b.end).map((be, i) => (
        <BackendLine
          key={be.backend}
          backend={be}
          selected={pane === 'backends' && b.start + i === b.cursor}
          widths={widths}
          live={live}
          now={now}
        />
      ))}
      {backends.length > b.end - b.start ? (
        <Text dimColor wrap="truncate-end">
          {'  '}backends {b.start + 1}-{b.end} of {backends.length}, {backends.length - (b.end - b.start)} more (address
          order; {pane === 'backends' ? '↑↓ PgUp PgDn scroll' : 'Tab to scroll'})
        </Text>
      ) : null}
    </>
  );
}

interface BackendLineProps {
  backend: BackendShare;
  selected: boolean;
  widths: [number, number];
  live: boolean;
  now: number | null;
}

function BackendLine({ backend: be, selected, widths, live, now }: BackendLineProps) {
  return (
    <Text inverse={selected} wrap="truncate-end">
      <Text color="cyan">{selected ? '›' : ' '}</Text> {fit(be.backend, widths[0])} {fit(be.pod ?? '-', widths[1])}{' '}
      <Text color="blue">{shareBar(be.share, 25)}</Text> {fit(percent(be.share), 6)}{' '}
      {live ? fit(String(be.selections), 10) : be.selections}
      {be.load ? (
        <Text color={be.load.live === 0 ? 'yellow' : undefined}>
          {' '}
          {count(be.load.live).padStart(5)} {bytesRate(be.load.bytesPerSecond).padStart(7)}{' '}
          {oldest(be.load, now).padStart(6)}
        </Text>
      ) : null}
    </Text>
  );
}

export interface ClientTableProps {
  clients: ClientRow[];
  rows: Slice;
  pane: DetailPane;
  /** The CLIENT and BACKEND columns. */
  widths: [number, number];
  showNode: boolean;
  live: boolean;
  now: number | null;
}

export function ClientTable({ clients, rows: c, pane, widths, showNode, live, now }: ClientTableProps) {
  return (
    <>
      <Text dimColor wrap="truncate-end">
        {'  '}clients: picks and sticky since each one's first pick seen (not the window)
        {live ? '; open connections now' : ''}
      </Text>
      <Text bold wrap="truncate-end" color={pane === 'clients' ? 'cyan' : undefined}>
        {'  '}
        {fit('CLIENT', widths[0])} {fit('BACKEND', widths[1])} {fit('PICKS', 6)} {fit('STICKY', 6)}{' '}
        {live ? `${fit('OPEN', 5)} ` : ''}
        {fit('LAST PICK', 10)} LAST SWITCH
      </Text>
      {clients.length === 0 ? <Text dimColor> no clients yet</Text> : null}
      {clients.slice(c.start, c.end).map((cl, i) => (
        <ClientLine
          key={`${cl.node}|${cl.client}`}
          client={cl}
          selected={pane === 'clients' && c.start + i === c.cursor}
          now={now}
          showNode={showNode}
          widths={widths}
        />
      ))}
      {clients.length > c.end - c.start ? (
        <Text dimColor wrap="truncate-end">
          {'  '}clients {c.start + 1}-{c.end} of {clients.length} listed (the most recently active),{' '}
          {clients.length - (c.end - c.start)} more ({pane === 'clients' ? '↑↓ PgUp PgDn scroll' : 'Tab to scroll'})
        </Text>
      ) : null}
    </>
  );
}

interface ClientLineProps {
  client: ClientRow;
  selected: boolean;
  now: number | null;
  showNode: boolean;
  widths: [number, number];
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
