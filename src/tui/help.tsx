// The keys, shown by '?'.
import { Box, Text } from 'ink';

const KEYS: Array<[string, string]> = [
  ['↑ ↓  j k', 'move the selection'],
  ['PgUp PgDn', 'move a page (Space too); Home End (g G) to the first or last row'],
  ['Enter', 'open the selected service (backends, clients, sparkline)'],
  ['Tab', 'in a service: switch scrolling between its backends and its clients'],
  ['Esc', 'back to the services list / close this help'],
  ['s', 'cycle the sort: name, rate, violations, skew'],
  ['l', 'switch the share bars: new connections, connections open now, bytes (LIVE: open now)'],
  ['/', 'filter services by text (name, address, backend, pod); Enter keeps it, Esc clears it'],
  ['?', 'show or hide this help'],
  ['q  Ctrl-C', 'quit'],
];

export function Help() {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>Keys</Text>
      {KEYS.map(([key, what]) => (
        <Text key={key}>
          <Text color="cyan">{key.padEnd(12)}</Text>
          {what}
        </Text>
      ))}
      <Text dimColor>
        Stickiness is the fraction of consecutive picks that kept the backend; (1/K) is what uniform random choice
        gives. A violation is a different backend within the affinity timeout while the previous one was still an
        endpoint.
      </Text>
    </Box>
  );
}
