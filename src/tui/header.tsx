// Top line: where the events come from, nodes, event rate, lost events, window.
import { Box, Text } from 'ink';
import type { HeaderView } from './view-model.js';
import { clock, rate, seconds } from './format.js';

export function Header({ header }: { header: HeaderView }) {
  const { nodesUp, nodesDown, lostEvents } = header;
  return (
    <Box flexDirection="column">
      <Box gap={2}>
        <Text bold>stickyscope</Text>
        <Text dimColor>{header.source}</Text>
        <Text>
          nodes <Text color="green">{nodesUp.length}</Text>
          {nodesDown.length > 0 ? (
            <Text color="red">
              {' '}
              ({nodesDown.length} down: {nodesDown.join(', ')})
            </Text>
          ) : null}
        </Text>
        <Text>{rate(header.eventsPerSecond)} ev/s</Text>
        {lostEvents > 0 ? (
          <Text color="red" bold inverse>
            {' '}
            lost {lostEvents}{' '}
          </Text>
        ) : (
          <Text>lost 0</Text>
        )}
        <Text>window {seconds(header.windowSeconds)}</Text>
        {header.now !== null ? <Text dimColor>{clock(header.now)}</Text> : null}
      </Box>
      {nodesUp.length > 0 ? (
        <Text dimColor wrap="truncate-end">
          up: {nodesUp.join(', ')}
        </Text>
      ) : null}
    </Box>
  );
}
