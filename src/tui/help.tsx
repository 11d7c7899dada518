// The keys and what each column of the list means, shown by '?'. One line each, cut at the width rather than
// wrapped: the whole help fits an 80x24 terminal under the header.
import { Box, Text } from 'ink';

const KEYS: Array<[string, string]> = [
  ['↑ ↓  j k', 'move the selection'],
  ['PgUp PgDn', 'move a page (Space too, but in replay); Home End (g G) first/last'],
  ['Enter', 'open the selected service (backends, clients, sparkline)'],
  ['Tab', 'in a service: switch scrolling between its backends and clients'],
  ['Esc', 'back to the services list / close this help'],
  ['s', 'cycle the sort: name, rate, violations, skew'],
  ['l', 'switch the share bars: new connections, open now, bytes'],
  ['/', 'filter by name, address, backend or pod; Enter keeps, Esc clears'],
  ['Space ← →', 'replay: pause or resume; step one window back or forward'],
  ['? q Ctrl-C', 'show or hide this help; quit'],
];

/** The list's columns; the detail view names the window of each of its figures. */
const COLUMNS: Array<[string, string]> = [
  ['SEL/S', 'new connections per second (backend picks), not requests; last 5s'],
  ['LIVE', 'connections open now (conntrack); the bars show them with l'],
  ['MAX/M', "the busiest backend's picks over the mean per backend; 1.00 is even"],
  ['SPREAD', 'chi-square test of the picks against uniform (p below 0.01: skewed)'],
  ['STICKY', 'picks that kept the backend; (1/K) is what random choice gives'],
  ['VIOL', 'moves within the affinity timeout while the old backend was listed'],
  ['TOPO', "--k8s: picks in the picking node's zone; ! a node ignores the hints or drops"],
  ['NODES', 'nodes up that reported the service in the window (wide terminals)'],
];

function Lines({ title, rows }: { title: string; rows: Array<[string, string]> }) {
  return (
    <>
      <Text bold>{title}</Text>
      {rows.map(([key, what]) => (
        <Text key={key} wrap="truncate-end">
          <Text color="cyan">{key.padEnd(12)}</Text>
          {what}
        </Text>
      ))}
    </>
  );
}

export function Help() {
  return (
    <Box flexDirection="column">
      <Lines title="Keys" rows={KEYS} />
      <Lines title="Columns (figures over the window unless said)" rows={COLUMNS} />
    </Box>
  );
}
