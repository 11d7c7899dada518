// `lab up` killed with SIGKILL part-way, then `lab down`: nothing of the lab may remain,
// checked by scanning /proc for the backend script and the lab's namespaces, never by
// asking the lab's own code.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { requireRoot, requireTools, runPrefix } from '../helpers/env.js';
import { cliPath } from '../helpers/cli.js';
import { netnsNames } from '../helpers/lab-fixture.js';
import { labDown } from '../../src/lab/lab.js';
import { backendScript } from '../../src/lab/processes.js';
import { stateDirOf } from '../../src/lab/state.js';

const run = promisify(execFile);

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function pids(): number[] {
  return readdirSync('/proc')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n !== process.pid);
}

/** Backends of this prefix: the backend script with a log path under the prefix's dir. */
function backendsOf(prefix: string): number[] {
  return pids().filter((p) => {
    const c = cmdline(p);
    return c.includes(backendScript) && c.includes(`${stateDirOf(prefix)}/`);
  });
}

/** Network namespace inode -> name, for the namespaces carrying the prefix. */
function namespaceInodes(prefix: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const n of netnsNames().filter((x) => x.startsWith(`${prefix}-`))) {
    try {
      out.set(statSync(`/run/netns/${n}`).ino, n);
    } catch {
      // Listed but already unmounted: it has no processes to find.
    }
  }
  return out;
}

/** Processes whose network namespace is one of `inodes` (what `ip netns pids` does). */
function inNamespaces(inodes: Map<number, string>): string[] {
  return pids().flatMap((p) => {
    try {
      const ino = Number(/^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${p}/ns/net`))?.[1]);
      return inodes.has(ino) ? [`${p} in ${inodes.get(ino)}: ${cmdline(p).replaceAll('\0', ' ')}`] : [];
    } catch {
      return [];
    }
  });
}

/**
 * `killAt`: a delay in ms, or the n-th rename of the state file: strace kills `lab up` on
 * entering that rename(2) (and fails it), right after a backend was spawned and before
 * its pid reached the state. The n-th: 1 creates the state, 1 + k follows backend k.
 */
async function killUpThenDown(t: TestContext, killAt: number | { stateWrite: number }): Promise<void> {
  const prefix = runPrefix();
  t.after(async () => {
    // Only this run's backends: the ones the assertions below would report.
    for (const p of backendsOf(prefix)) process.kill(p, 'SIGKILL');
    await labDown(prefix);
  });
  const upArgs = [cliPath, 'lab', 'up', '--prefix', prefix];
  if (typeof killAt === 'number') {
    const up = spawn(process.execPath, upArgs, { stdio: 'ignore' });
    const exited = new Promise((r) => up.on('exit', r));
    await new Promise((r) => setTimeout(r, killAt));
    up.kill('SIGKILL');
    await exited;
  } else {
    const inject = `inject=rename:error=EIO:signal=KILL:when=${killAt.stateWrite}`;
    // strace ends the way its tracee did: killed by SIGKILL itself.
    const end = await run('strace', [
      '-qq',
      '-o',
      '/dev/null',
      '-e',
      'trace=rename',
      '-e',
      inject,
      process.execPath,
      ...upArgs,
    ]).then(
      () => 'finished',
      (err: { signal?: string; code?: number }) => err.signal ?? err.code,
    );
    assert.ok(end === 'SIGKILL' || end === 137, `strace killed lab up before it finished; it ended with ${end}`);
  }
  const inodes = namespaceInodes(prefix);
  await run(process.execPath, [cliPath, 'lab', 'down', '--prefix', prefix]);
  assert.deepEqual(inNamespaces(inodes), [], 'no process is left in the lab namespaces');
  assert.deepEqual(
    backendsOf(prefix).map((p) => `${p}: ${cmdline(p).replaceAll('\0', ' ')}`),
    [],
    'no backend of the lab is left running',
  );
  assert.deepEqual(
    netnsNames().filter((n) => n.startsWith(`${prefix}-`)),
    [],
  );
  assert.equal(existsSync(stateDirOf(prefix)), false, 'the state dir is gone');
  t.diagnostic(`killed ${JSON.stringify(killAt)}: ${inodes.size} namespaces existed`);
}

test('lab down after lab up was SIGKILLed part-way leaves no process, namespace or state', async (t) => {
  if (!requireRoot(t)) return;
  for (const ms of [50, 100, 200, 400, 800])
    await t.test(`killed ${ms} ms in`, (t: TestContext) => killUpThenDown(t, ms));
  for (const backend of [1, 2, 3])
    await t.test(`killed right after backend ${backend} is spawned`, (t: TestContext) => {
      // strace kills lab up at an exact point.
      if (!requireTools(t, 'strace')) return;
      return killUpThenDown(t, { stateWrite: 1 + backend });
    });
});
