// Mounts the app with Ink's throttled renderer.
import { render, type Instance } from 'ink';
import { App } from './app.js';
import type { FrameSource } from './view-model.js';

export interface RunOptions {
  fps: number;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  /** Called after each frame Ink draws (for measurement). */
  onRender?: () => void;
}

/** Renders the TUI; the caller awaits `waitUntilExit()` ('q' or Ctrl-C) and then stops its feeds. */
export function runTui(source: FrameSource, opts: RunOptions): Instance {
  return render(<App source={source} fps={opts.fps} />, {
    maxFps: opts.fps,
    exitOnCtrlC: true,
    patchConsole: true,
    ...(opts.stdout ? { stdout: opts.stdout } : {}),
    ...(opts.stdin ? { stdin: opts.stdin } : {}),
    ...(opts.onRender ? { onRender: opts.onRender } : {}),
  });
}
