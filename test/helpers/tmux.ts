// A real terminal for tests: a command run in a detached tmux session on its own tmux server (its own socket), read
// back with capture-pane. After the command exits, the shell wrapper prints its exit status and the terminal's modes,
// so a test can check that the program ended and gave the terminal back (canonical mode, echo, cursor).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrefix } from './env.js';
import { waitFor, NotYet } from './wait.js';

export interface TmuxOptions {
  cols?: number;
  rows?: number;
  /** Extra environment for the command. */
  env?: Record<string, string>;
}

interface TerminalAfterExit {
  code: number;
  /** Line discipline back in canonical mode (ICANON), i.e. raw mode was undone. */
  canonical: boolean;
  echo: boolean;
  cursorVisible: boolean;
}

export interface Tmux {
  /** Session and socket name, carrying the run prefix. */
  name: string;
  /** Keys in tmux send-keys syntax ('q', 'Enter', 'Escape', 'C-c', 'Down'); literal text with `literal`. */
  sendKeys(keys: string | string[], literal?: boolean): void;
  /** The visible screen as plain text. */
  capture(): string;
  /** Resizes the terminal, as a user dragging its window would (the program gets SIGWINCH). */
  resize(cols: number, rows: number): void;
  /** The visible screen with its colours and attributes as escape sequences (capture-pane -e). */
  captureStyled(): string;
  /** Resolves with the screen once `pattern` appears on it. */
  waitForText(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves once the command has exited, with its status and the terminal's state. */
  waitForExit(timeoutMs?: number): Promise<TerminalAfterExit>;
  /** Ends the tmux server and everything in it. Safe to call twice. */
  kill(): void;
}

const EXIT_MARK = '__tmux_exit__';

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function startTmux(cmd: string, opts: TmuxOptions = {}): Tmux {
  const name = runPrefix('tmux');
  // An explicit socket path: tmux leaves its socket behind after kill-server, and this one we can remove.
  const socket = join(tmpdir(), `${name}.sock`);
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
  const env = Object.entries(opts.env ?? {})
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(' ');
  // The command runs in a terminal, not in CI: with CI set, Ink (and others) stop drawing live frames.
  // After it: its status, whether the tty is canonical and echoing, then wait to be killed.
  const script = `env -u CI -u CONTINUOUS_INTEGRATION ${env} ${cmd}; echo "${EXIT_MARK}=$? $(stty -a | tr ' ' '\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' ')"; exec sleep 3600`;
  tmux(
    '-f',
    '/dev/null',
    'new-session',
    '-d',
    '-s',
    name,
    '-x',
    String(opts.cols ?? 160),
    '-y',
    String(opts.rows ?? 50),
    'sh',
    '-c',
    script,
  );
  let alive = true;

  const capture = () => tmux('capture-pane', '-p', '-t', name);
  /** `check`'s value, or not yet, with the screen as what was seen. */
  const onScreen =
    <T>(check: (screen: string) => T | undefined) =>
    () => {
      const screen = capture();
      return check(screen) ?? new NotYet(`tmux ${name}'s screen:\n${screen}`, check.toString());
    };

  return {
    name,
    sendKeys(keys, literal = false) {
      tmux('send-keys', '-t', name, ...(literal ? ['-l'] : []), ...(Array.isArray(keys) ? keys : [keys]));
    },
    capture,
    resize(cols, rows) {
      tmux('resize-window', '-t', name, '-x', String(cols), '-y', String(rows));
    },
    captureStyled: () => tmux('capture-pane', '-p', '-e', '-t', name),
    waitForText(pattern, timeoutMs = 10_000) {
      const test = (s: string) => (typeof pattern === 'string' ? s.includes(pattern) : pattern.test(s));
      return waitFor(
        `${pattern} on tmux ${name}`,
        onScreen((screen) => (test(screen) ? screen : undefined)),
        timeoutMs,
        50,
      );
    },
    async waitForExit(timeoutMs = 10_000) {
      const line = await waitFor(
        `the command in tmux ${name} to exit`,
        onScreen((screen) => screen.split('\n').find((l) => l.startsWith(`${EXIT_MARK}=`))),
        timeoutMs,
        50,
      );
      const [code, ...modes] = line
        .slice(EXIT_MARK.length + 1)
        .trim()
        .split(/\s+/);
      const cursorVisible = tmux('display-message', '-p', '-t', name, '#{cursor_flag}').trim() === '1';
      return { code: Number(code), canonical: modes.includes('icanon'), echo: modes.includes('echo'), cursorVisible };
    },
    kill() {
      if (!alive) return;
      alive = false;
      try {
        tmux('kill-server');
      } catch {
        // Already gone: the server exits by itself when its last session ends.
      }
      rmSync(socket, { force: true });
    },
  };
}
