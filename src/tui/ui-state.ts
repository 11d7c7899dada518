// What the user has chosen (selection, opened service, sort, filter, help), changed
// only by keys. A reducer rather than closures over state: keys typed faster than a
// frame (a paste, Enter twice) each see the state the previous key left.
import type { Key } from 'ink';
import { SORT_KEYS, type SortKey } from './hooks.js';
import type { LoadMeasure } from './view-model.js';

/** The order 'l' cycles the share bars' measure through. */
const MEASURES: LoadMeasure[] = ['new', 'open', 'bytes'];

/** The table of the detail that the moving keys scroll. */
export type DetailPane = 'backends' | 'clients';

export interface UiState {
  /** The opened service, null on the list. */
  focus: string | null;
  cursor: number;
  /** The Service the cursor is on: a re-sort, a filter or rows coming and going keep the cursor on it. */
  selected: string | null;
  pane: DetailPane;
  backendCursor: number;
  clientCursor: number;
  sort: SortKey;
  /** What the list's share bars measure. */
  measure: LoadMeasure;
  filter: string;
  editingFilter: boolean;
  help: boolean;
  quit: boolean;
  /** Replay: paused by Space, and the windows stepped by the arrows so far (forward minus back). */
  paused: boolean;
  steps: number;
}

export const initialUi: UiState = {
  focus: null,
  cursor: 0,
  selected: null,
  pane: 'clients',
  backendCursor: 0,
  clientCursor: 0,
  sort: 'name',
  measure: 'new',
  filter: '',
  editingFilter: false,
  help: false,
  quit: false,
  paused: false,
  steps: 0,
};

export interface KeyAction {
  input: string;
  key: Key;
  /** Services as listed when the key came (sorted and filtered), to know what Enter opens. */
  listed: string[];
  /** Rows of the opened service's tables. */
  backends: number;
  clients: number;
  /** Rows of each list that fit on the screen: what PgUp and PgDn move. */
  page: { services: number; backends: number; clients: number };
  /** A replay: Space pauses and the arrows step a window, in the list and in a service alike. */
  replay: boolean;
}

const clamp = (i: number, n: number) => Math.max(0, Math.min(i, n - 1));

/** Where a moving key takes a cursor over `n` rows, `page` of them on screen; null for other keys. */
function moved(at: number, n: number, page: number, input: string, key: Key): number | null {
  if (key.upArrow || input === 'k') return clamp(at - 1, n);
  if (key.downArrow || input === 'j') return clamp(at + 1, n);
  if (key.pageUp) return clamp(at - Math.max(1, page), n);
  if (key.pageDown || input === ' ') return clamp(at + Math.max(1, page), n);
  if (key.home || input === 'g') return 0;
  if (key.end || input === 'G') return clamp(n - 1, n);
  return null;
}

/** Where the cursor is in `listed`: on the selected Service while it is listed, else the row it was on. */
export function cursorIn(s: Pick<UiState, 'cursor' | 'selected'>, listed: readonly string[]): number {
  const i = s.selected === null ? -1 : listed.indexOf(s.selected);
  return i >= 0 ? i : clamp(s.cursor, listed.length);
}

/**
 * The filter after typed text: Backspace arrives as DEL (0x7f) or BS, alone or several in one read (typed fast, or
 * sent by tmux), when Ink does not flag it; other control characters are dropped.
 */
function edited(filter: string, input: string): string {
  let out = filter;
  for (const ch of input) {
    if (ch === '\x7f' || ch === '\b') out = out.slice(0, -1);
    else if (ch >= ' ') out += ch;
  }
  return out;
}

export function reduceKey(s: UiState, action: KeyAction): UiState {
  const { input, key, listed } = action;
  if (key.ctrl && input === 'c') return { ...s, quit: true };
  if (s.editingFilter) {
    if (key.return) return { ...s, editingFilter: false };
    if (key.escape) return { ...s, filter: '', editingFilter: false, cursor: 0 };
    if (key.backspace || key.delete) return { ...s, filter: s.filter.slice(0, -1) };
    if (input && !key.ctrl && !key.meta) return { ...s, filter: edited(s.filter, input), cursor: 0, selected: null };
    return s;
  }
  if (input === 'q') return { ...s, quit: true };
  if (input === '?') return { ...s, help: !s.help };
  if (s.help) return key.escape ? { ...s, help: false } : s;
  if (action.replay) {
    if (input === ' ') return { ...s, paused: !s.paused };
    if (key.leftArrow) return { ...s, steps: s.steps - 1 };
    if (key.rightArrow) return { ...s, steps: s.steps + 1 };
  }
  if (s.focus !== null) {
    if (key.escape || key.backspace || key.leftArrow) return { ...s, focus: null };
    if (key.tab) return { ...s, pane: s.pane === 'clients' ? 'backends' : 'clients' };
    if (s.pane === 'backends') {
      const to = moved(clamp(s.backendCursor, action.backends), action.backends, action.page.backends, input, key);
      return to === null ? s : { ...s, backendCursor: to };
    }
    const to = moved(clamp(s.clientCursor, action.clients), action.clients, action.page.clients, input, key);
    return to === null ? s : { ...s, clientCursor: to };
  }
  const at = cursorIn(s, listed);
  const to = moved(at, listed.length, action.page.services, input, key);
  if (to !== null) return { ...s, cursor: to, selected: listed[to] ?? null };
  if (key.return && listed[at] !== undefined)
    return { ...s, focus: listed[at]!, pane: 'clients', backendCursor: 0, clientCursor: 0 };
  if (input === 's')
    return {
      ...s,
      sort: SORT_KEYS[(SORT_KEYS.indexOf(s.sort) + 1) % SORT_KEYS.length]!,
      selected: listed[at] ?? s.selected,
    };
  if (input === 'l') return { ...s, measure: MEASURES[(MEASURES.indexOf(s.measure) + 1) % MEASURES.length]! };
  if (input === '/') return { ...s, editingFilter: true };
  if (key.escape && s.filter) return { ...s, filter: '', cursor: 0 };
  return s;
}
