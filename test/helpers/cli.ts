// Runs the real `stickyscope` executable (or the `kubectl-stickyscope` plugin) as a child process, as a user would.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const cliPath = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));
export const kubectlPluginPath = fileURLToPath(new URL('../../../bin/kubectl-stickyscope.js', import.meta.url));

interface CliOptions {
  uid?: number;
  gid?: number;
  /** The executable to run (default cliPath). */
  bin?: string;
  /** Options for node itself, before the executable. */
  nodeArgs?: string[];
}

/**
 * Node options that make a call to process.exit print EXIT_MARK on stderr. A finished command must end by letting the
 * event loop run dry: on Node 24 process.exit can deadlock (src/cli/main.ts), and a command that needs it to end has
 * left something running.
 */
export const EXIT_MARK = '[process.exit called]';
export const WATCH_EXIT = [
  '--import',
  `data:text/javascript,const exit = process.exit; process.exit = (c) => { process.stderr.write(${JSON.stringify(`${EXIT_MARK}\n`)}); return exit.call(process, c); };`,
];

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stderr or stdout has printed text matching the pattern. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startCli(args: string[], opts: CliOptions = {}): CliRun {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.bin ?? cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: opts.uid,
    gid: opts.gid,
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  const poke = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    poke();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    poke();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      poke();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; stderr: ${err.slice(-500)}`)),
          timeoutMs,
        );
        const check = () => {
          if (pattern.test(err) || pattern.test(out)) {
            clearTimeout(timer);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            reject(
              new Error(
                `exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; stderr: ${err.slice(-500)}`,
              ),
            );
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Runs to completion. */
export async function runCli(args: string[], opts: CliOptions = {}) {
  const r = startCli(args, opts);
  const { code, signal } = await r.exit;
  return { code, signal, stdout: r.stdout(), stderr: r.stderr() };
}
