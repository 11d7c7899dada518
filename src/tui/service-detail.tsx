// One Service opened: the summary of its figures, then its backends and its clients; both tables show only the rows
// that fit and scroll; every line is cut at the width.
import { Box, Text } from 'ink';
import { clip } from './format.js';
import type { ServiceDetail } from './view-model.js';
import type { DetailPane } from './ui-state.js';
import { useScrollWindow, useSortedClients } from './hooks.js';
import { DetailSummary, windowLabel } from './detail-summary.js';
import { BackendTable, ClientTable } from './detail-tables.js';

export interface ServiceDetailProps {
  /** The opened Service, and its detail: null once it has left the window. */
  focus: string;
  detail: ServiceDetail | null;
  /** The table the moving keys scroll: its heading is highlighted and its cursor shown. */
  pane: DetailPane;
  backendCursor: number;
  clientCursor: number;
  /** Backend and client rows that fit (useDetailRows): the detail never outgrows the screen. */
  rows: { backends: number; clients: number };
  columns: number;
  now: number | null;
}

/** The widest of `texts`, kept within [min, max]. */
function widest(texts: string[], min: number, max: number): number {
  let w = min;
  for (const t of texts) if (t.length > w) w = t.length;
  return Math.min(w, max);
}

export function ServiceDetailView(props: ServiceDetailProps) {
  if (!props.detail) {
    return (
      <Text dimColor wrap="truncate-end">
        {clip(props.focus, props.columns)}: no longer in the window (Esc goes back)
      </Text>
    );
  }
  return <Opened {...props} detail={props.detail} />;
}

function Opened({
  detail,
  pane,
  backendCursor,
  clientCursor,
  rows,
  columns,
  now,
}: ServiceDetailProps & { detail: ServiceDetail }) {
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
      <DetailSummary detail={detail} columns={columns} multiNode={multiNode} />
      <BackendTable
        detail={detail}
        rows={{ ...b, cursor: backendCursor }}
        pane={pane}
        widths={[backendWidth, podWidth]}
        now={now}
        last={windowLabel(detail)}
      />
      <ClientTable
        clients={clients}
        rows={{ ...c, cursor: clientCursor }}
        pane={pane}
        widths={[clientWidth, backendWidth + 2]}
        showNode={multiNode}
        live={live}
        now={now}
      />
    </Box>
  );
}
