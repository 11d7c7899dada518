// Runs the few system tools the lab drives (ip, iptables-restore, iptables-save),
// turning a failure into one line that says which command failed and what it printed.
import { spawn } from 'node:child_process';
import { EnvironmentError } from '../core/errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Resolves whatever the exit code; `run` is the checked variant. */
export function runRaw(cmd: string, args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) =>
      reject(new EnvironmentError(`failed to run ${cmd}: ${err.message}; is it installed and on PATH?`)),
    );
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
    child.stdin.on('error', () => {}); // a tool that exits early closes its stdin; its exit code says why
    child.stdin.end(input ?? '');
  });
}

export async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await runRaw(cmd, args, input);
  if (r.code !== 0) {
    const said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 3).join(' | ');
    throw new EnvironmentError(`failed to run '${cmd} ${args.join(' ')}': exit ${r.code}: ${said || 'no output'}`);
  }
  return r.stdout;
}

export function inNetns(ns: string, cmd: string, ...args: string[]): Promise<string> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args]);
}
