// Hand-written view models for the TUI's view tests: a Service row, a whole model, and a source serving it (with a
// detail for whichever Service is opened).
import type { FrameSource, NotableLine, ServiceRow, ViewModel } from '../../src/tui/view-model.js';

export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
export const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

let nextAddress = 1;

export function row(name: string, over: Partial<ServiceRow> = {}): ServiceRow {
  return {
    service: `10.96.0.${nextAddress++}:80/tcp`,
    name,
    affinity: { mode: 'ClientIP', timeoutSeconds: 10800 },
    selections: 100,
    selectionsPerSecond: 10,
    backends: [
      { backend: '10.1.1.2:8080', pod: `${name}-a`, selections: 50, share: 0.5 },
      { backend: '10.1.1.3:8080', pod: `${name}-b`, selections: 50, share: 0.5 },
    ],
    maxOverMean: 1,
    chi2P: 0.9,
    spread: { verdict: 'uniform', head: 'uniform', text: 'uniform (n=100)' },
    stickiness: 0.8,
    expectedRandom: 0.5,
    violations: 0,
    pending: 0,
    nodes: ['n1'],
    ...over,
  };
}

export function model(services: ServiceRow[], over: Partial<ViewModel['header']> = {}): ViewModel {
  return {
    header: {
      nodesUp: ['n1'],
      nodesDown: [],
      eventsPerSecond: 1234,
      lostEvents: 0,
      windowSeconds: 60,
      source: 'test',
      now: T0,
      counted: { start: T0 - 30e6, end: T0 },
      ...over,
    },
    services,
    detail: null,
  };
}

/** A source serving a fixed model; the detail is built for whichever service is focused. */
export function fixedSource(vm: ViewModel, notable: NotableLine[] = []): FrameSource & { focused: (string | null)[] } {
  const focused: (string | null)[] = [];
  return {
    focused,
    snapshot(focus) {
      focused.push(focus);
      const r = vm.services.find((s) => s.service === focus);
      if (!r) return vm;
      const podOf = (backend: string) => r.backends.find((b) => b.backend === backend)?.pod ?? null;
      return {
        ...vm,
        detail: {
          row: r,
          bucketSeconds: 5,
          windowSeconds: 60,
          sparkline: [0, 1, 2, 4, 8, 4, 2, 1, 0, 0, 1, 8],
          families: null,
          frontends: null,
          topology: null,
          affinitySets: [
            { node: 'n1', endpoint: '10.1.1.2:8080', elements: 4, size: 4 },
            { node: 'n1', endpoint: '10.1.1.3:8080', elements: 1, size: 4 },
          ],
          clients: [
            {
              client: '10.0.1.2',
              node: 'n1',
              backend: '10.1.1.2:8080',
              pod: podOf('10.1.1.2:8080'),
              picks: 12,
              stickiness: 1,
              lastSelection: T0 - 1_000_000,
              lastSwitch: null,
            },
            {
              client: '10.0.1.3',
              node: 'n1',
              backend: '10.1.1.3:8080',
              pod: podOf('10.1.1.3:8080'),
              picks: 5,
              stickiness: 0.5,
              lastSelection: T0 - 1_000_000,
              lastSwitch: { ts: T0 - 2_000_000, from: '10.1.1.2:8080', verdict: 'violation' },
            },
          ],
        },
      };
    },
    drainNotable: () => notable.splice(0),
  };
}
