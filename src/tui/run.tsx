// Mounts the app with Ink's throttled renderer.
import { render, type Instance } from 'ink';
import { App } from './app.js';
import type { FrameSource } from './view-model.js';
import type { ReplayKeys } from './replay-control.js';

export interface RunOptions {
  fps: number;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  /** Called after each frame Ink draws (for measurement). */
  onRender?: () => void;
  /** A replay's pause and steps, for its keys. */
  replay?: ReplayKeys;
}

/** Renders the TUI; the caller awaits `waitUntilExit()` ('q' or Ctrl-C) and then stops its feeds. */
export function runTui(source: FrameSource, opts: RunOptions): Instance {
  const stdout = opts.stdout ?? process.stdout;
  const app = render(<App source={source} fps={opts.fps} {...(opts.replay ? { replay: opts.replay } : {})} />, {
    maxFps: opts.fps,
    exitOnCtrlC: true,
    patchConsole: true,
    stdout,
    ...(opts.stdin ? { stdin: opts.stdin } : {}),
    ...(opts.onRender ? { onRender: opts.onRender } : {}),
  });
  const stop = clearOnShrink(stdout);
  app.waitUntilExit().then(stop, stop);
  return app;
}

/**
 * Clears the screen when the terminal narrows, before Ink redraws: the terminal re-wraps the old frame's wide lines
 * into more rows than Ink knows to erase, and their tails would stay above the new frame (Ink's own advice for
 * resizing down). Registered ahead of Ink's handler, so Ink then draws on a clean screen from the top.
 */
function clearOnShrink(stdout: NodeJS.WriteStream): () => void {
  let columns = stdout.columns;
  const resized = () => {
    if (stdout.columns < columns) stdout.write('\x1b[2J\x1b[H');
    columns = stdout.columns;
  };
  stdout.prependListener('resize', resized);
  return () => {
    stdout.off('resize', resized);
  };
}
