// The whole screen: the event log above, header, the services list or one service's
// detail, and a footer with the keys. Keys go to the ui-state reducer; the views only draw.
import { useEffect, useMemo, useReducer, useRef } from 'react';
import { Box, useApp, useInput, useStdout } from 'ink';
import type { FrameSource } from './view-model.js';
import {
  useClampedIndex,
  useDetailRows,
  useFilteredServices,
  useFrame,
  useSortedServices,
  useTerminalSize,
} from './hooks.js';
import { cursorIn, initialUi, reduceKey } from './ui-state.js';
import { Header } from './header.js';
import { EventLogView } from './event-log.js';
import { ServicesView } from './services-view.js';
import { ServiceDetailView } from './service-detail.js';
import { Help } from './help.js';
import { Footer } from './footer.js';
import type { ReplayKeys } from './replay-control.js';

export interface AppProps {
  source: FrameSource;
  fps: number;
  /** A replay's pause and steps: Space and the arrows drive them. */
  replay?: ReplayKeys;
}

/**
 * Lines taken by the header (2) and the footer (1) around the panel, and one left free:
 * Ink clears the whole screen on every frame as tall as the terminal.
 */
const CHROME_LINES = 4;

export function App({ source, fps, replay }: AppProps) {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const { rows, columns } = useTerminalSize(stdout);

  const [ui, dispatch] = useReducer(reduceKey, initialUi);
  const { focus, sort, measure, filter, editingFilter, help } = ui;
  const { view, log } = useFrame(source, fps, focus);
  const sorted = useSortedServices(view.services, sort);
  const visible = useFilteredServices(sorted, filter);
  const listed = useMemo(() => visible.map((r) => r.service), [visible]);
  const at = useMemo(() => cursorIn(ui, listed), [ui, listed]);
  const detail = focus !== null && view.detail?.row.service === focus ? view.detail : null;
  const backends = detail?.row.backends.length ?? 0;
  const clients = detail?.clients.length ?? 0;
  const backendAt = useClampedIndex(ui.backendCursor, backends);
  const clientAt = useClampedIndex(ui.clientCursor, clients);
  const panelHeight = rows - CHROME_LINES;
  const detailRows = useDetailRows(panelHeight, detail);

  useInput((input, key) =>
    dispatch({
      input,
      key,
      listed,
      backends,
      clients,
      page: { services: Math.max(1, panelHeight - 1), ...detailRows },
      replay: replay !== undefined,
    }),
  );
  useEffect(() => {
    if (ui.quit) exit();
  }, [ui.quit, exit]);
  useReplayKeys(replay, ui.paused, ui.steps);

  return (
    <>
      <EventLogView log={log} />
      <Box flexDirection="column">
        <Header header={view.header} />
        {help ? (
          <Help />
        ) : focus !== null ? (
          <ServiceDetailView
            focus={focus}
            detail={detail}
            pane={ui.pane}
            backendCursor={backendAt}
            clientCursor={clientAt}
            rows={detailRows}
            columns={columns}
            now={view.header.now}
          />
        ) : (
          <ServicesView
            rows={visible}
            cursor={at}
            sort={sort}
            measure={measure}
            filter={filter}
            height={panelHeight}
            columns={columns}
            totalServices={view.services.length}
          />
        )}
        <Footer
          inDetail={focus !== null}
          sort={sort}
          measure={measure}
          filter={filter}
          editingFilter={editingFilter}
          replay={replay ? { paused: ui.paused } : null}
          columns={columns}
        />
      </Box>
    </>
  );
}

/**
 * Passes the keys' pause and steps to the replay: the reducer counts steps, so keys typed faster than a frame are
 * each counted, and this hands over what was added since.
 */
function useReplayKeys(replay: ReplayKeys | undefined, paused: boolean, steps: number): void {
  const applied = useRef(0);
  useEffect(() => {
    replay?.setPaused(paused);
  }, [replay, paused]);
  useEffect(() => {
    const windows = steps - applied.current;
    applied.current = steps;
    if (windows !== 0) replay?.step(windows);
  }, [replay, steps]);
}
