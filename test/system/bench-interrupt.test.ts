// `npm run bench` interrupted at three points leaves nothing behind: Ctrl-C to the process group during lab set-up,
// SIGTERM to the bench during a flood, SIGTERM to npm's `sh -c`. What is left is judged from the machine (`ip netns
// list`, /proc, the sysctl, the file system), never from what the bench says it did.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireRoot } from '../helpers/env.js';
import { stateDirOf } from '../../src/lab/state.js';
import { waitFor, NotYet } from '../helpers/wait.js';

const benchPath = fileURLToPath(new URL('../../scripts/bench.js', import.meta.url));
const cliPath = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));
const CONNTRACK_MAX = '/proc/sys/net/netfilter/nf_conntrack_max';
const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';
/** From the signal to the bench's exit, clean-up included. */
const EXIT_WITHIN_MS = 30_000;

interface Proc {
  pid: number;
  /** Start time in clock ticks since boot: tells a pid apart from a later reuse of it. */
  start: string;
  cmd: string;
}

function stat(pid: number): { ppid: number; start: string; state: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)", which may hold spaces: state, ppid, ... starttime is the 20th.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), start: f[19]! };
  } catch {
    return null;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

const isAlive = (p: Proc) => {
  const s = stat(p.pid);
  return s !== null && s.start === p.start && s.state !== 'Z';
};

/** Every process below `root`, noted as it appears (once the root is gone, orphans hang under init). */
class Descendants {
  readonly seen = new Map<number, Proc>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly root: number) {
    this.poll();
    this.timer = setInterval(() => this.poll(), 50);
  }

  poll(): void {
    const kids = new Map<number, number[]>();
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      const s = Number.isInteger(pid) ? stat(pid) : null;
      if (s) kids.set(s.ppid, [...(kids.get(s.ppid) ?? []), pid]);
    }
    const todo = [...(kids.get(this.root) ?? [])];
    while (todo.length) {
      const pid = todo.pop()!;
      const s = stat(pid);
      if (s && !this.seen.has(pid)) this.seen.set(pid, { pid, start: s.start, cmd: cmdline(pid) });
      todo.push(...(kids.get(pid) ?? []));
    }
  }

  alive(): Proc[] {
    return [...this.seen.values()].filter(isAlive);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const namespacesOf = (prefix: string) =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${prefix}-`));

/** A waitFor check on the bench: `probe`'s value, or not yet, with the bench's stderr as what was seen. */
const benchCheck =
  <T>(run: Run, probe: () => T | undefined | false) =>
  () =>
    probe() ||
    new NotYet(
      `bench stderr:
${run.stderr}`,
      'the probe to hold',
    );

interface Run {
  /** kernel.bpf_stats_enabled before the bench. */
  statsBefore: string;
  /** The process the test started: the bench itself, or the shell around it. */
  child: ChildProcess;
  bench: Proc;
  procs: Descendants;
  stderr: string;
  /** Resolves when the bench's stderr closes, i.e. when it and everything holding the pipe are gone. */
  closed: Promise<void>;
  prefix?: string;
  dir?: string;
}

/** Starts the bench (under `sh -c` when `viaShell`) in a process group of its own; undoes whatever it leaves, after the test. */
async function startBench(t: TestContext, viaShell: boolean): Promise<Run> {
  const maxBefore = readFileSync(CONNTRACK_MAX, 'utf8').trim();
  const statsBefore = readFileSync(BPF_STATS, 'utf8').trim();
  const command = `'${process.execPath}' '${benchPath}' --quick`;
  // The trailing `exit` stops dash from exec'ing the bench in its place, as npm's shell does not either.
  const child = viaShell
    ? spawn('sh', ['-c', `${command}; exit $?`], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, [benchPath, '--quick'], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const procs = new Descendants(child.pid!);
  const run = { child, procs, stderr: '', statsBefore } as Run;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    run.stderr += d;
    const m = /building lab (\S+); temporary files in (\S+)/.exec(run.stderr);
    if (m) [run.prefix, run.dir] = [m[1]!, m[2]!];
  });
  run.closed = new Promise((resolve) => child.stderr!.on('close', () => resolve()));
  t.after(() => {
    procs.stop();
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    for (const p of procs.alive()) process.kill(p.pid, 'SIGKILL');
    if (run.prefix)
      execFileSync(process.execPath, [cliPath, 'lab', 'down', '--prefix', run.prefix], { stdio: 'inherit' });
    if (readFileSync(CONNTRACK_MAX, 'utf8').trim() !== maxBefore) writeFileSync(CONNTRACK_MAX, maxBefore);
    if (readFileSync(BPF_STATS, 'utf8').trim() !== statsBefore) writeFileSync(BPF_STATS, statsBefore);
    if (run.dir) rmSync(run.dir, { recursive: true, force: true });
  });
  run.bench = viaShell
    ? await waitFor(
        'the bench under sh',
        benchCheck(run, () => procs.alive().find((p) => p.cmd.includes(benchPath))),
        10_000,
        100,
      )
    : { pid: child.pid!, start: stat(child.pid!)!.start, cmd: cmdline(child.pid!) };
  await waitFor(
    'the lab prefix on stderr',
    benchCheck(run, () => run.prefix),
    20_000,
    100,
  );
  return run;
}

/** After the signal: the bench is gone in time and took everything of its own with it. */
async function assertCleanedUp(
  t: TestContext,
  run: Run,
  signalledAt: number,
  maxBefore: string,
  signal: string,
): Promise<void> {
  await waitFor(
    'the bench to exit',
    benchCheck(run, () => !isAlive(run.bench)),
    EXIT_WITHIN_MS,
    100,
  );
  await Promise.race([run.closed, sleep(2000)]);
  const took = Date.now() - signalledAt;
  t.diagnostic(`exited ${took} ms after ${signal}; stderr: ${run.stderr.trim().split('\n').join(' | ')}`);
  run.procs.poll();
  const left = run.procs.alive();
  assert.deepEqual(
    left.map((p) => `${p.pid} ${p.cmd}`),
    [],
    `processes of the bench still running ${took} ms after ${signal}`,
  );
  assert.deepEqual(namespacesOf(run.prefix!), [], `namespaces of lab ${run.prefix} left after ${signal}`);
  assert.equal(
    readFileSync(CONNTRACK_MAX, 'utf8').trim(),
    maxBefore,
    'nf_conntrack_max is back to its value before the bench',
  );
  assert.equal(
    readFileSync(BPF_STATS, 'utf8').trim(),
    run.statsBefore,
    'kernel.bpf_stats_enabled is back to its value before the bench',
  );
  assert.equal(existsSync(run.dir!), false, `temporary dir ${run.dir} removed`);
  assert.equal(existsSync(stateDirOf(run.prefix!)), false, `lab state dir ${stateDirOf(run.prefix!)} removed`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(
    lines.filter((l) => /interrupted/.test(l)).length,
    1,
    `one line says it was interrupted; stderr:\n${run.stderr}`,
  );
  assert.match(run.stderr, new RegExp(`interrupted \\(.*${signal}`));
  assert.deepEqual(
    lines.filter((l) => /clean-up:|failed/.test(l)),
    [],
    'no failure and no clean-up problem reported',
  );
}

const exitOf = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve({ code: c.exitCode, signal: c.signalCode })
    : new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
        c.once('exit', (code, signal) => r({ code, signal })),
      );

test('bench: Ctrl-C (SIGINT to its process group) while the lab is being built cleans everything up', {
  timeout: 120_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const maxBefore = readFileSync(CONNTRACK_MAX, 'utf8').trim();
  const run = await startBench(t, false);
  await waitFor(
    `namespaces of lab ${run.prefix}`,
    benchCheck(run, () => namespacesOf(run.prefix!).length > 0),
    30_000,
    100,
  );
  const at = Date.now();
  process.kill(-run.child.pid!, 'SIGINT');
  const exit = await exitOf(run.child);
  await assertCleanedUp(t, run, at, maxBefore, 'SIGINT');
  assert.deepEqual(exit, { code: 130, signal: null }, 'exits 130 (128 + SIGINT) by itself, not killed by the signal');
});

test('bench: SIGTERM to the bench alone during a flood with agent and aggregator attached cleans everything up', {
  timeout: 180_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const maxBefore = readFileSync(CONNTRACK_MAX, 'utf8').trim();
  const run = await startBench(t, false);
  // The whole pipeline attached (the agent with its probe helper below it, the aggregator), the generators running.
  await waitFor(
    'a flood with agent and aggregator attached',
    benchCheck(run, () => {
      const cmds = run.procs.alive().map((p) => p.cmd);
      return cmds.some((c) => c.includes('aggregator-worker')) && cmds.some((c) => c.includes('build/flood'));
    }),
    120_000,
    100,
  );
  if (Number(maxBefore) < 4_194_304)
    assert.equal(
      readFileSync(CONNTRACK_MAX, 'utf8').trim(),
      '4194304',
      'the bench raised nf_conntrack_max for its run',
    );
  const at = Date.now();
  process.kill(run.child.pid!, 'SIGTERM');
  const exit = await exitOf(run.child);
  await assertCleanedUp(t, run, at, maxBefore, 'SIGTERM');
  assert.deepEqual(exit, { code: 143, signal: null }, 'exits 143 (128 + SIGTERM) by itself, not killed by the signal');
});

test('bench: SIGTERM to the shell it runs under (as npm forwards it) during a flood cleans everything up', {
  timeout: 180_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const maxBefore = readFileSync(CONNTRACK_MAX, 'utf8').trim();
  const run = await startBench(t, true);
  // The second mode of the overhead section: the probe helper attached, the generators running.
  await waitFor(
    'a flood with the probe attached',
    benchCheck(
      run,
      () =>
        /overhead udp bare round 1/.test(run.stderr) && run.procs.alive().some((p) => p.cmd.includes('build/flood')),
    ),
    90_000,
    100,
  );
  const at = Date.now();
  process.kill(run.child.pid!, 'SIGTERM');
  await assertCleanedUp(t, run, at, maxBefore, 'parent process');
});

test('bench: SIGTERM while kernel.bpf_stats_enabled is switched on for the capture passes restores it', {
  timeout: 240_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const maxBefore = readFileSync(CONNTRACK_MAX, 'utf8').trim();
  const run = await startBench(t, false);
  assert.equal(run.statsBefore, '0', 'kernel.bpf_stats_enabled is off before the bench (else this test cannot tell)');
  // Judged from the sysctl itself: the bench has switched it on, and a flood runs with the pipeline attached.
  await waitFor(
    'bpf_stats on during a capture flood',
    benchCheck(
      run,
      () =>
        readFileSync(BPF_STATS, 'utf8').trim() === '1' && run.procs.alive().some((p) => p.cmd.includes('build/flood')),
    ),
    200_000,
    100,
  );
  const at = Date.now();
  process.kill(run.child.pid!, 'SIGTERM');
  const exit = await exitOf(run.child);
  await assertCleanedUp(t, run, at, maxBefore, 'SIGTERM');
  assert.deepEqual(exit, { code: 143, signal: null }, 'exits 143 (128 + SIGTERM) by itself, not killed by the signal');
});
