// The last line: the keys that work where the user is. On a narrow terminal the less needed ones give way, so that
// help and quit stay on the screen.
import { Text } from 'ink';
import type { SortKey } from './hooks.js';
import type { LoadMeasure } from './view-model.js';
import { clip } from './format.js';

/** A key and how much it matters: 0 always shown, higher ones give way first. */
type Entry = [text: string, rank: number];

/** The entries that fit `width`, dropping the highest ranks first. */
function fitting(entries: Entry[], width: number): string {
  const text = (shown: Entry[]) => shown.map(([t]) => t).join('  ');
  let shown = entries;
  for (let rank = 3; rank > 0 && text(shown).length > width; rank--) shown = shown.filter(([, r]) => r < rank);
  return text(shown);
}

export interface FooterProps {
  inDetail: boolean;
  sort: SortKey;
  measure: LoadMeasure;
  filter: string;
  editingFilter: boolean;
  /** A replay, and whether it is paused. */
  replay: { paused: boolean } | null;
  columns: number;
}

export function Footer({ inDetail, sort, measure, filter, editingFilter, replay, columns }: FooterProps) {
  if (editingFilter) {
    return (
      <Text wrap="truncate-end">
        <Text color="cyan">filter /</Text>
        {clip(filter, 40)}
        <Text inverse> </Text> <Text dimColor>Enter keeps, Esc clears</Text>
      </Text>
    );
  }
  const pause = replay ? (replay.paused ? 'PAUSED space plays' : 'space pause') : '';
  const entries: Entry[] = [
    ...(replay ? ([['←→ step a window', 1]] as Entry[]) : []),
    ...((inDetail
      ? [
          ['↑↓ PgUp PgDn scroll', 0],
          ['Tab backends/clients', 0],
          ['Esc back', 1],
        ]
      : [
          ['↑↓ move', 3],
          ['Enter open', 1],
          [`s sort:${sort}`, 2],
          [`l bars:${measure}`, 3],
          ['/ filter', 2],
        ]) as Entry[]),
    ['? help', 0],
    ['q quit', 0],
  ];
  return (
    <Text dimColor wrap="truncate-end">
      {replay ? (
        <Text color={replay.paused ? 'yellow' : undefined} bold={replay.paused}>
          {pause}
          {'  '}
        </Text>
      ) : null}
      {fitting(entries, columns - (replay ? pause.length + 2 : 0))}
      {filter && !inDetail ? `   filter: '${clip(filter, 40)}'` : ''}
    </Text>
  );
}
