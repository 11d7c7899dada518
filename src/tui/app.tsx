// The whole screen: the event log above, header, the services list or one service's
// detail, and a footer with the keys. Key handling lives here; the views only draw.
import { useState } from 'react';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import type { FrameSource } from './view-model.js';
import { SORT_KEYS, type SortKey, useClampedIndex, useFilteredServices, useFrame, useSortedServices } from './hooks.js';
import { Header } from './header.js';
import { EventLogView } from './event-log.js';
import { ServicesView } from './services-view.js';
import { ServiceDetailView } from './service-detail.js';
import { Help } from './help.js';

export interface AppProps {
  source: FrameSource;
  fps: number;
}

/** Lines taken by the header (2) and the footer (1) around the panel. */
const CHROME_LINES = 4;

export function App({ source, fps }: AppProps) {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const rows = stdout.rows || 40;
  const columns = stdout.columns || 160;

  const [focus, setFocus] = useState<string | null>(null);
  const [cursor, setCursor] = useState(0);
  const [clientCursor, setClientCursor] = useState(0);
  const [sort, setSort] = useState<SortKey>('name');
  const [filter, setFilter] = useState('');
  const [editingFilter, setEditingFilter] = useState(false);
  const [help, setHelp] = useState(false);

  const { view, log } = useFrame(source, fps, focus);
  const sorted = useSortedServices(view.services, sort);
  const visible = useFilteredServices(sorted, filter);
  const at = useClampedIndex(cursor, visible.length);
  const detail = focus !== null && view.detail?.row.service === focus ? view.detail : null;
  const clientAt = useClampedIndex(clientCursor, detail?.clients.length ?? 0);

  useInput((input, key) => {
    if (key.ctrl && input === 'c') return exit();
    if (editingFilter) {
      if (key.return) setEditingFilter(false);
      else if (key.escape) {
        setFilter('');
        setEditingFilter(false);
      } else if (key.backspace || key.delete) setFilter((f) => f.slice(0, -1));
      else if (input && !key.ctrl && !key.meta) setFilter((f) => f + input);
      return;
    }
    if (input === 'q') return exit();
    if (input === '?') return setHelp((h) => !h);
    if (help) {
      if (key.escape) setHelp(false);
      return;
    }
    const up = key.upArrow || input === 'k';
    const down = key.downArrow || input === 'j';
    if (focus !== null) {
      if (key.escape || key.backspace || key.leftArrow) setFocus(null);
      else if (up) setClientCursor(() => Math.max(0, clientAt - 1));
      else if (down) setClientCursor(() => clientAt + 1);
      return;
    }
    if (up) setCursor(() => Math.max(0, at - 1));
    else if (down) setCursor(() => at + 1);
    else if (key.return && visible[at]) {
      setFocus(visible[at]!.service);
      setClientCursor(0);
    } else if (input === 's') setSort((s) => SORT_KEYS[(SORT_KEYS.indexOf(s) + 1) % SORT_KEYS.length]!);
    else if (input === '/') setEditingFilter(true);
    else if (key.escape && filter) setFilter('');
  });

  const panelHeight = rows - CHROME_LINES;
  return (
    <>
      <EventLogView log={log} />
      <Box flexDirection="column">
        <Header header={view.header} />
        {help ? (
          <Help />
        ) : focus !== null ? (
          detail ? (
            <ServiceDetailView detail={detail} cursor={clientAt} height={panelHeight} columns={columns} now={view.header.now} />
          ) : (
            <Text dimColor>{focus}: no longer in the window (Esc goes back)</Text>
          )
        ) : (
          <ServicesView rows={visible} cursor={at} sort={sort} filter={filter} height={panelHeight} columns={columns} totalServices={view.services.length} />
        )}
        <Footer inDetail={focus !== null} sort={sort} filter={filter} editingFilter={editingFilter} />
      </Box>
    </>
  );
}

function Footer({ inDetail, sort, filter, editingFilter }: { inDetail: boolean; sort: SortKey; filter: string; editingFilter: boolean }) {
  if (editingFilter) {
    return (
      <Text>
        <Text color="cyan">filter /</Text>
        {filter}
        <Text inverse> </Text> <Text dimColor>Enter keeps, Esc clears</Text>
      </Text>
    );
  }
  const keys = inDetail ? '↑↓ clients  Esc back  ? help  q quit' : `↑↓ move  Enter open  s sort:${sort}  / filter  ? help  q quit`;
  return (
    <Text dimColor>
      {keys}
      {filter && !inDetail ? `   filter: '${filter}'` : ''}
    </Text>
  );
}
