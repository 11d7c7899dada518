// Top lines: nodes, event rate, lost events, window, where the events come from; each
// one line, cut at the terminal's width.
import { Box, Text } from 'ink';
import type { HeaderView } from './view-model.js';
import { clip, clock, rate, seconds } from './format.js';

export function Header({ header }: { header: HeaderView }) {
  const { nodesUp, nodesDown, lostEvents } = header;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text bold>stickyscope</Text>
        {'  '}nodes <Text color="green">{nodesUp.length}</Text>
        {nodesDown.length > 0 ? (
          <Text color="red">
            {' '}
            ({nodesDown.length} down: {clip(nodesDown.join(', '), 60)})
          </Text>
        ) : null}
        {'  '}
        {rate(header.eventsPerSecond)} ev/s{'  '}
        {lostEvents > 0 ? (
          <Text color="red" bold inverse>
            {' '}
            lost {lostEvents}{' '}
          </Text>
        ) : (
          'lost 0'
        )}
        {'  '}window {seconds(header.windowSeconds)}
        {/* The clock: live, it runs on when the events stop (a dead agent must not freeze it); replayed, the trace's. */}
        {header.now !== null ? `  ${clock(header.now).slice(0, 8)}` : ''}
        {/* The span of what the figures count, not of the window asked for: a fresh start counts seconds. */}
        <Text dimColor>
          {header.counted
            ? `  counted ${clock(header.counted.start)}-${clock(header.counted.end)}`
            : header.now !== null
              ? '  counted none'
              : ''}
        </Text>
        {/* Last: a long trace path is what the width cuts, not the figures. */}
        <Text dimColor>{`  ${clip(header.source, 400)}`}</Text>
      </Text>
      {nodesUp.length > 0 ? (
        <Text dimColor wrap="truncate-end">
          up: {clip(nodesUp.join(', '), 400)}
        </Text>
      ) : null}
    </Box>
  );
}
