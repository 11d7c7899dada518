// One hook per derived value. The frame hook is the only bridge from the aggregator
// to React: it samples the source on a timer, so render cost follows the frame rate,
// not the event rate.
import { topologyLineCount } from './detail-topology.js';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ClientRow, FrameSource, NotableLine, ServiceDetail, ServiceRow, ViewModel } from './view-model.js';
import { bytesOff } from './detail-summary.js';

/** Static log lines kept before the log restarts on a fresh <Static> (what was printed stays on the terminal). */
const LOG_EPOCH_LINES = 1000;

export interface EventLog {
  /** Changes when the log restarts: used as the key of <Static>. */
  epoch: number;
  lines: NotableLine[];
}

/** Samples `source` every 1/fps seconds into React state; `focus` is read at sampling time. */
export function useFrame(source: FrameSource, fps: number, focus: string | null): { view: ViewModel; log: EventLog } {
  const focusRef = useRef(focus);
  focusRef.current = focus;
  const [view, setView] = useState<ViewModel>(() => source.snapshot(focus));
  const [log, setLog] = useState<EventLog>({ epoch: 0, lines: [] });

  useEffect(() => {
    const tick = () => {
      setView(() => source.snapshot(focusRef.current));
      const fresh = source.drainNotable();
      if (fresh.length === 0) return;
      setLog((prev) =>
        prev.lines.length + fresh.length > LOG_EPOCH_LINES
          ? { epoch: prev.epoch + 1, lines: fresh }
          : { epoch: prev.epoch, lines: prev.lines.concat(fresh) },
      );
    };
    const timer = setInterval(tick, Math.max(1, Math.round(1000 / fps)));
    return () => clearInterval(timer);
  }, [source, fps]);

  // Opening a detail should not wait for the next tick to show it.
  useEffect(() => {
    setView(() => source.snapshot(focus));
  }, [source, focus]);

  return { view, log };
}

const sizeOf = (stdout: NodeJS.WriteStream) => ({ columns: stdout.columns || 160, rows: stdout.rows || 40 });

/** The terminal's size, followed as it is resized (the frame tick would pick it up a frame late). */
export function useTerminalSize(stdout: NodeJS.WriteStream): { columns: number; rows: number } {
  const [size, setSize] = useState(() => sizeOf(stdout));
  useEffect(() => {
    const resized = () => setSize(() => sizeOf(stdout));
    stdout.on('resize', resized);
    return () => {
      stdout.off('resize', resized);
    };
  }, [stdout]);
  return size;
}

export type SortKey = 'name' | 'rate' | 'violations' | 'skew';
export const SORT_KEYS: SortKey[] = ['name', 'rate', 'violations', 'skew'];

const label = (r: ServiceRow) => r.name ?? r.service;

const SKEW_ORDER = { skewed: 0, uniform: 1, tooFew: 2, none: 3 } as const;
const skewRank = (r: ServiceRow) => SKEW_ORDER[r.spread.verdict];

const comparators: Record<SortKey, (a: ServiceRow, b: ServiceRow) => number> = {
  name: (a, b) => label(a).localeCompare(label(b)),
  rate: (a, b) => b.selectionsPerSecond - a.selectionsPerSecond,
  violations: (a, b) => b.violations - a.violations,
  // Skewed ones first, lowest p on top; then those judged uniform; those too few to judge and untestable last.
  skew: (a, b) => skewRank(a) - skewRank(b) || (a.chi2P ?? 2) - (b.chi2P ?? 2),
};

export function useSortedServices(rows: ServiceRow[], key: SortKey): ServiceRow[] {
  return useMemo(
    () => [...rows].sort((a, b) => comparators[key](a, b) || label(a).localeCompare(label(b))),
    [rows, key],
  );
}

/** Case-insensitive substring match on the name, the address, and the backends' addresses and pods. */
export function useFilteredServices(rows: ServiceRow[], filter: string): ServiceRow[] {
  return useMemo(() => {
    const needle = filter.trim().toLowerCase();
    if (!needle) return rows;
    return rows.filter((r) =>
      [r.name ?? '', r.service, ...(r.addresses ?? []), ...r.backends.flatMap((b) => [b.backend, b.pod ?? ''])].some(
        (s) => s.toLowerCase().includes(needle),
      ),
    );
  }, [rows, filter]);
}

/** Clients with a violation first, then by picks: the ones worth a look on top. */
export function useSortedClients(clients: ClientRow[]): ClientRow[] {
  return useMemo(
    () =>
      [...clients].sort(
        (a, b) =>
          Number(b.lastSwitch?.verdict === 'violation') - Number(a.lastSwitch?.verdict === 'violation') ||
          b.picks - a.picks ||
          a.client.localeCompare(b.client) ||
          a.node.localeCompare(b.node),
      ),
    [clients],
  );
}

/** The cursor, kept inside the list as it grows and shrinks. */
export function useClampedIndex(index: number, length: number): number {
  return useMemo(() => Math.max(0, Math.min(index, length - 1)), [index, length]);
}

/** Lines of the detail that are neither backend nor client rows (titles, captions, headings, "N more" lines). */
const DETAIL_FIXED_LINES = 10;

/**
 * How many backend and client rows the detail shows in `height` lines: half each, and
 * what one table does not need goes to the other, so neither pushes the header off.
 */
export function useDetailRows(height: number, detail: ServiceDetail | null): { backends: number; clients: number } {
  const backends = detail?.row.backends.length ?? 0;
  const clients = detail?.clients.length ?? 0;
  // The lines only some Services have take one line each from the tables: affinity sets (nftables mode), open
  // connections, the stale warning, bytes unavailable, the frontends or address families; and the topology's (--k8s).
  const extra =
    (detail?.affinitySets.length ? 1 : 0) +
    (detail?.row.live !== undefined ? 1 : 0) +
    (detail?.row.stale ? 1 : 0) +
    (detail && bytesOff(detail.row) ? 1 : 0) +
    (detail?.frontends || detail?.families ? 1 : 0) +
    topologyLineCount(detail?.topology ?? null);
  return useMemo(() => {
    const avail = Math.max(2, height - extra - DETAIL_FIXED_LINES);
    const b = Math.min(backends, Math.max(Math.floor(avail / 2), avail - Math.max(1, clients)));
    return { backends: b, clients: Math.min(clients, avail - b) };
  }, [height, extra, backends, clients]);
}

/** The slice of `length` rows to show in `height` lines so that `cursor` stays visible. */
export function useScrollWindow(cursor: number, length: number, height: number): { start: number; end: number } {
  return useMemo(() => {
    const h = Math.max(1, height);
    const start = Math.max(0, Math.min(cursor - Math.floor(h / 2), length - h));
    return { start, end: Math.min(length, start + h) };
  }, [cursor, length, height]);
}
