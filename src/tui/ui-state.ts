// What the user has chosen (selection, opened service, sort, filter, help), changed
// only by keys. A reducer rather than closures over state: keys typed faster than a
// frame (a paste, Enter twice) each see the state the previous key left.
import type { Key } from 'ink';
import { SORT_KEYS, type SortKey } from './hooks.js';

export interface UiState {
  /** The opened service, null on the list. */
  focus: string | null;
  cursor: number;
  clientCursor: number;
  sort: SortKey;
  filter: string;
  editingFilter: boolean;
  help: boolean;
  quit: boolean;
}

export const initialUi: UiState = {
  focus: null,
  cursor: 0,
  clientCursor: 0,
  sort: 'name',
  filter: '',
  editingFilter: false,
  help: false,
  quit: false,
};

export interface KeyAction {
  input: string;
  key: Key;
  /** Services as listed when the key came (sorted and filtered), to know what Enter opens. */
  listed: string[];
  clients: number;
}

const clamp = (i: number, n: number) => Math.max(0, Math.min(i, n - 1));

export function reduceKey(s: UiState, { input, key, listed, clients }: KeyAction): UiState {
  if (key.ctrl && input === 'c') return { ...s, quit: true };
  if (s.editingFilter) {
    if (key.return) return { ...s, editingFilter: false };
    if (key.escape) return { ...s, filter: '', editingFilter: false, cursor: 0 };
    if (key.backspace || key.delete) return { ...s, filter: s.filter.slice(0, -1) };
    if (input && !key.ctrl && !key.meta) return { ...s, filter: s.filter + input, cursor: 0 };
    return s;
  }
  if (input === 'q') return { ...s, quit: true };
  if (input === '?') return { ...s, help: !s.help };
  if (s.help) return key.escape ? { ...s, help: false } : s;
  const up = key.upArrow || input === 'k';
  const down = key.downArrow || input === 'j';
  if (s.focus !== null) {
    if (key.escape || key.backspace || key.leftArrow) return { ...s, focus: null };
    if (up) return { ...s, clientCursor: clamp(s.clientCursor - 1, clients) };
    if (down) return { ...s, clientCursor: clamp(s.clientCursor + 1, clients) };
    return s;
  }
  const at = clamp(s.cursor, listed.length);
  if (up) return { ...s, cursor: clamp(at - 1, listed.length) };
  if (down) return { ...s, cursor: clamp(at + 1, listed.length) };
  if (key.return && listed[at] !== undefined) return { ...s, focus: listed[at]!, clientCursor: 0 };
  if (input === 's') return { ...s, sort: SORT_KEYS[(SORT_KEYS.indexOf(s.sort) + 1) % SORT_KEYS.length]! };
  if (input === '/') return { ...s, editingFilter: true };
  if (key.escape && s.filter) return { ...s, filter: '', cursor: 0 };
  return s;
}
