// Ink rendered into a terminal of a chosen size (ink-testing-library's is 100 columns
// and has no height): every frame kept, keys typed into a fake stdin.
import { EventEmitter } from 'node:events';
import type { ReactElement } from 'react';
import { render } from 'ink';
import { fakeStdin } from './fake-stdin.js';

export interface Terminal {
  /** The last frame Ink wrote (in debug mode: the static lines, then the live panel). */
  frame(): string;
  frames: string[];
  type(keys: string): void;
  unmount(): void;
}

export function renderAt(tree: ReactElement, size: { columns: number; rows: number }): Terminal {
  const frames: string[] = [];
  const stdout = Object.assign(new EventEmitter(), {
    ...size,
    isTTY: true,
    write: (s: string) => {
      frames.push(s);
      return true;
    },
  });
  const stderr = Object.assign(new EventEmitter(), { write: () => true });
  const stdin = fakeStdin();
  const app = render(tree, {
    stdout: stdout as never,
    stderr: stderr as never,
    stdin: stdin as never,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  return {
    frame: () => frames.at(-1) ?? '',
    frames,
    type: (keys) => stdin.type(keys),
    unmount: () => app.unmount(),
  };
}
