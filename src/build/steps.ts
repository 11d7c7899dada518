// One build step: a command that turns inputs into one output, skipped when the output
// is newer than every input, and reported in one line when it fails.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Step {
  /** What the step does, for "failed to <what>". */
  what: string;
  command: string[];
  inputs: string[];
  output: string;
  /** The command prints the output on stdout instead of writing it itself. */
  stdoutIsOutput?: boolean;
}

export class StepError extends Error {}

function mtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function upToDate(step: Step): boolean {
  const out = mtime(step.output);
  if (out === undefined) return false;
  return step.inputs.every((input) => (mtime(input) ?? Infinity) <= out);
}

/** Runs the step unless it is up to date; true when it ran. Throws StepError with the whole report. */
export function runStep(step: Step, cwd: string): boolean {
  if (upToDate(step)) return false;
  mkdirSync(dirname(step.output), { recursive: true });
  // Written beside the output and renamed, so a failed step never leaves a fresh-looking output.
  const partial = `${step.output}.partial`;
  const fd = step.stdoutIsOutput ? openSync(partial, 'w') : undefined;
  const [cmd, ...args] = step.command;
  if (cmd === undefined) throw new Error(`build step for ${step.output} has an empty command`);
  const result = spawnSync(cmd, args, { cwd, stdio: ['ignore', fd ?? 'inherit', 'pipe'], encoding: 'utf8' });
  if (fd !== undefined) closeSync(fd);
  const shown = step.command.join(' ');
  if (result.error) {
    rmSync(partial, { force: true });
    const why =
      (result.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${cmd} is not on PATH` : result.error.message;
    throw new StepError(`failed to ${step.what}: ${shown}: ${why}`);
  }
  if (result.status !== 0) {
    rmSync(partial, { force: true });
    const exited = result.status === null ? `was killed by ${result.signal}` : `exited ${result.status}`;
    throw new StepError(`failed to ${step.what}: ${shown} ${exited}\n${result.stderr.trimEnd()}`);
  }
  if (fd !== undefined) renameSync(partial, step.output);
  return true;
}
