// A stdin Ink accepts as a raw-mode TTY, with keys typed into it: shared by the TUI tests, the terminal helper and the
// TUI bench, which drive the real Ink render without a terminal.
import { EventEmitter } from 'node:events';

export interface FakeStdin extends EventEmitter {
  /** Delivers `keys` as one read, as a terminal does for a key press. */
  type(keys: string): void;
}

export function fakeStdin(): FakeStdin {
  let pending: string | null = null;
  const stdin: FakeStdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    setEncoding() {},
    setRawMode() {},
    resume() {},
    pause() {},
    ref() {},
    unref() {},
    read: () => {
      const d = pending;
      pending = null;
      return d;
    },
    type(keys: string) {
      pending = keys;
      stdin.emit('readable');
    },
  });
  return stdin;
}
