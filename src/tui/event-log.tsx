// Finished lines above the live panels: printed once by <Static>, never redrawn. Their
// text names clients, services and nodes from the events: made printable here.
import { Static, Text } from 'ink';
import type { EventLog } from './hooks.js';
import type { NotableKind } from './view-model.js';
import { clock } from './format.js';
import { printable } from '../core/text.js';

const style: Record<NotableKind, { tag: string; color: string }> = {
  violation: { tag: 'VIOLATION', color: 'red' },
  pending: { tag: 'PENDING  ', color: 'yellow' },
  forcedRepick: { tag: 'REPICK   ', color: 'yellow' },
  backendChanged: { tag: 'BACKEND  ', color: 'yellow' },
  reflectiveChanged: { tag: 'REFLECT  ', color: 'yellow' },
  nodeDown: { tag: 'NODE DOWN', color: 'red' },
  nodeUp: { tag: 'NODE UP  ', color: 'green' },
  lost: { tag: 'LOST     ', color: 'red' },
  skipped: { tag: 'SKIPPED  ', color: 'gray' },
  warning: { tag: 'WARNING  ', color: 'yellow' },
};

export function EventLogView({ log }: { log: EventLog }) {
  return (
    <Static key={log.epoch} items={log.lines}>
      {(line) => (
        <Text key={line.id}>
          <Text dimColor>{clock(line.ts)} </Text>
          <Text color={style[line.kind].color} bold>
            {style[line.kind].tag}
          </Text>{' '}
          {printable(line.text)}
        </Text>
      )}
    </Static>
  );
}
