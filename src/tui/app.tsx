// The whole screen: the event log above, header, the services list or one service's
// detail, and a footer with the keys. Keys go to the ui-state reducer; the views only draw.
import { useEffect, useReducer } from 'react';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import type { FrameSource } from './view-model.js';
import { type SortKey, useClampedIndex, useFilteredServices, useFrame, useSortedServices } from './hooks.js';
import { initialUi, reduceKey } from './ui-state.js';
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

  const [ui, dispatch] = useReducer(reduceKey, initialUi);
  const { focus, sort, filter, editingFilter, help } = ui;
  const { view, log } = useFrame(source, fps, focus);
  const sorted = useSortedServices(view.services, sort);
  const visible = useFilteredServices(sorted, filter);
  const at = useClampedIndex(ui.cursor, visible.length);
  const detail = focus !== null && view.detail?.row.service === focus ? view.detail : null;
  const clientAt = useClampedIndex(ui.clientCursor, detail?.clients.length ?? 0);

  useInput((input, key) =>
    dispatch({ input, key, listed: visible.map((r) => r.service), clients: detail?.clients.length ?? 0 }),
  );
  useEffect(() => {
    if (ui.quit) exit();
  }, [ui.quit, exit]);

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
            <ServiceDetailView
              detail={detail}
              cursor={clientAt}
              height={panelHeight}
              columns={columns}
              now={view.header.now}
            />
          ) : (
            <Text dimColor>{focus}: no longer in the window (Esc goes back)</Text>
          )
        ) : (
          <ServicesView
            rows={visible}
            cursor={at}
            sort={sort}
            filter={filter}
            height={panelHeight}
            columns={columns}
            totalServices={view.services.length}
          />
        )}
        <Footer inDetail={focus !== null} sort={sort} filter={filter} editingFilter={editingFilter} />
      </Box>
    </>
  );
}

function Footer({
  inDetail,
  sort,
  filter,
  editingFilter,
}: {
  inDetail: boolean;
  sort: SortKey;
  filter: string;
  editingFilter: boolean;
}) {
  if (editingFilter) {
    return (
      <Text>
        <Text color="cyan">filter /</Text>
        {filter}
        <Text inverse> </Text> <Text dimColor>Enter keeps, Esc clears</Text>
      </Text>
    );
  }
  const keys = inDetail
    ? '↑↓ clients  Esc back  ? help  q quit'
    : `↑↓ move  Enter open  s sort:${sort}  / filter  ? help  q quit`;
  return (
    <Text dimColor>
      {keys}
      {filter && !inDetail ? `   filter: '${filter}'` : ''}
    </Text>
  );
}
