// `npm run bench:sweep`: what following the conntrack table costs the probe helper (issue 26). A namespace with a NAT
// table whose conntrack table conntrack(8) fills with DNATed, ESTABLISHED entries (none expires within the run), and
// the real helper attached to it:
// - one sweep walk: the helper's CPU over SWEEP_WALKS sweeps 1 s apart at SWEEP_WALK_ENTRIES (100,000) entries,
//   less what the same helper costs over the same time without conntrack, per walk and per 100,000 entries;
// - the share of a core at SWEEP_ENTRIES (250,000) with the default period (10 s, stretched by the helper so that a
//   walk takes at most 0.8% of a core), over whole periods from the end of the dump at attach, at least SWEEP_SECONDS (60). Target: under 1%.
// The entries carry no traffic, so sweeps send no `traffic` events: the cost is the walk's. CPU is the helper's
// threads' time on a CPU (/proc/PID/task/*/schedstat). Needs root and the build. Ctrl-C removes what it made.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StickyEvent, SweepEvent } from '../../src/core/event.js';
import { runPrefix } from '../../src/core/run-prefix.js';
import { startProbe, type Probe } from '../../src/probe/probe.js';
import { cpuNs } from './procs.js';

const WALK_ENTRIES = Number(process.env.SWEEP_WALK_ENTRIES ?? 100_000);
const WALKS = Number(process.env.SWEEP_WALKS ?? 10);
const ENTRIES = Number(process.env.SWEEP_ENTRIES ?? 250_000);
const SECONDS = Number(process.env.SWEEP_SECONDS ?? 60);
const CONNTRACK_MAX = '/proc/sys/net/netfilter/nf_conntrack_max';

const cleanups: (() => void)[] = [];
const say = (line: string) => process.stderr.write(`sweep bench: ${line}\n`);
const inNs = (ns: string, ...cmd: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'pipe' });

/** A namespace whose entries can carry DNAT, with byte counters on; removed at the end. */
function node(prefix: string): string {
  const ns = `${prefix}-sweep`;
  execFileSync('ip', ['netns', 'add', ns]);
  cleanups.push(() => execFileSync('ip', ['netns', 'del', ns]));
  inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  inNs(ns, 'nft', 'add table ip nat; add chain ip nat pre { type nat hook prerouting priority -100; }');
  inNs(ns, 'sysctl', '-q', 'net.netfilter.nf_conntrack_acct=1');
  const max = Number(readFileSync(CONNTRACK_MAX, 'utf8'));
  const need = Math.ceil(ENTRIES * 1.25);
  if (max < need) {
    writeFileSync(CONNTRACK_MAX, String(need));
    cleanups.push(() => writeFileSync(CONNTRACK_MAX, String(max)));
    say(`net.netfilter.nf_conntrack_max ${max} -> ${need} (restored at exit)`);
  }
  return ns;
}

/** Entries `from` to `to` - 1: client 10.x.y.z:port to 10.96.0.10:80, TCP ESTABLISHED, DNATed to one of 3 backends. */
function fill(ns: string, dir: string, from: number, to: number): number {
  const lines: string[] = [];
  for (let i = from; i < to; i++) {
    // 50,000 ports of each of 250 addresses per /24: every tuple is its own.
    const host = Math.floor(i / 50_000);
    const src = `10.${100 + (host >> 8)}.${host & 255}.${(i % 250) + 1}`;
    const sport = 10_000 + (i % 50_000);
    lines.push(
      `-I -s ${src} -d 10.96.0.10 -p tcp --sport ${sport} --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 3600 --dst-nat 10.1.${i % 3}.2:8080`,
    );
  }
  const file = join(dir, `entries-${from}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const t0 = Date.now();
  inNs(ns, 'conntrack', '-R', file);
  rmSync(file);
  return (Date.now() - t0) / 1000;
}

/** The helper in `ns`, its sweeps as they come. */
async function helper(ns: string, sweepMs: number | undefined, live = true) {
  const probe: Probe = startProbe({
    node: 'bench',
    netns: `/run/netns/${ns}`,
    liveConnections: live,
    conntrackSweepMs: sweepMs,
  });
  const sweeps: { at: number; cpu: number; ev: SweepEvent }[] = [];
  const errors: Error[] = [];
  probe.on('error', (e: Error) => errors.push(e));
  probe.on('events', (events: StickyEvent[]) => {
    for (const e of events)
      if (e.type === 'sweep') sweeps.push({ at: performance.now(), cpu: cpuNs(probe.pid!), ev: e });
  });
  await probe.ready;
  const until = async (what: string, ok: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (errors.length > 0) throw errors[0];
      if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { probe, sweeps, until };
}

/** The helper's CPU per sweep walk at `n` entries, less its CPU without conntrack over as long. */
async function walkCost(ns: string, n: number) {
  const h = await helper(ns, 1000);
  let a: (typeof h.sweeps)[number];
  let b: typeof a;
  try {
    await h.until('the dump at attach', () => h.sweeps.length >= 1, 120_000);
    const dump = h.sweeps[0]!.ev;
    if (dump.open !== n) throw new Error(`the dump found ${dump.open} open connections; expected the ${n} made`);
    await h.until(`${WALKS + 1} sweeps`, () => h.sweeps.length >= WALKS + 2, (WALKS + 30) * 5000);
    a = h.sweeps[1]!;
    b = h.sweeps[WALKS + 1]!;
  } finally {
    await h.probe.stop();
  }
  const idle = await helper(ns, undefined, false);
  let idleNs: number;
  try {
    const c0 = cpuNs(idle.probe.pid!);
    await new Promise((r) => setTimeout(r, b.at - a.at));
    idleNs = cpuNs(idle.probe.pid!) - c0;
  } finally {
    await idle.probe.stop();
  }
  const walls = h.sweeps.slice(2, WALKS + 2).map((s) => s.ev.micros / 1000);
  return {
    dumpMs: h.sweeps[0]!.ev.micros / 1000,
    perWalkMs: (b.cpu - a.cpu - idleNs) / WALKS / 1e6,
    wallMs: walls.reduce((x, y) => x + y, 0) / walls.length,
    idleNs,
    idleMs: b.at - a.at,
  };
}

/** The helper's share of a core at `n` entries with the default period, over whole periods. */
async function share(ns: string, n: number, idlePerMs: number) {
  const h = await helper(ns, undefined);
  try {
    await h.until('the dump at attach', () => h.sweeps.length >= 1, 300_000);
    if (h.sweeps[0]!.ev.open !== n) throw new Error(`the dump found ${h.sweeps[0]!.ev.open}; expected ${n}`);
    // From the dump's end (its records are written by then), over whole periods: the period may be minutes.
    const a = h.sweeps[0]!;
    await h.until(
      `${SECONDS} s of sweeps`,
      () => h.sweeps.length >= 2 && h.sweeps.at(-1)!.at - a.at >= SECONDS * 1000,
      (SECONDS + 600) * 1000,
    );
    const b = h.sweeps.at(-1)!;
    const periods = h.sweeps.length - 1;
    const wall = b.at - a.at;
    return {
      dumpMs: h.sweeps[0]!.ev.micros / 1000,
      share: (b.cpu - a.cpu) / 1e6 / wall,
      walkMs: (b.cpu - a.cpu - idlePerMs * wall) / periods / 1e6,
      periodS: (b.at - a.at) / periods / 1000,
      periods,
      seconds: (b.at - a.at) / 1000,
    };
  } finally {
    await h.probe.stop();
  }
}

async function main(): Promise<void> {
  const prefix = runPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-sweep-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const ns = node(prefix);
  const buckets = readFileSync('/proc/sys/net/netfilter/nf_conntrack_buckets', 'utf8').trim();
  say(`namespace ${ns}, nf_conntrack_buckets ${buckets}; filling ${WALK_ENTRIES} entries`);
  const fill1 = fill(ns, dir, 0, WALK_ENTRIES);
  const walk = await walkCost(ns, WALK_ENTRIES);
  say(`filling ${ENTRIES - WALK_ENTRIES} more entries (took ${fill1.toFixed(1)} s for the first)`);
  fill(ns, dir, WALK_ENTRIES, ENTRIES);
  // What the helper costs without conntrack, per ms: the share of a core its sweeps add is above it.
  const idlePerMs = walk.idleNs / walk.idleMs;
  const s = await share(ns, ENTRIES, idlePerMs);
  const per100k = (walk.perWalkMs * 100_000) / WALK_ENTRIES;
  const n = (x: number) => x.toLocaleString('en');
  const idleShare = idlePerMs / 1e6;
  const rows = [
    [`sweep walk at ${n(WALK_ENTRIES)} entries: CPU per 100,000 entries`, `${per100k.toFixed(1)} ms`, '-'],
    [
      `sweep walk at ${n(WALK_ENTRIES)} / ${n(ENTRIES)} entries: CPU`,
      `${walk.perWalkMs.toFixed(1)} ms / ${s.walkMs.toFixed(1)} ms (wall at ${n(WALK_ENTRIES)}: ${walk.wallMs.toFixed(1)} ms, mean of ${WALKS})`,
      '-',
    ],
    [
      `dump at attach, ${n(WALK_ENTRIES)} / ${n(ENTRIES)} entries (wall)`,
      `${walk.dumpMs.toFixed(0)} ms / ${s.dumpMs.toFixed(0)} ms`,
      '-',
    ],
    ['helper without conntrack', `${(idleShare * 100).toFixed(2)}% of a core`, '-'],
    [
      `helper at ${n(ENTRIES)} entries, default period (${s.periodS.toFixed(1)} s; ${s.periods} periods, ${s.seconds.toFixed(0)} s): all / its sweeps`,
      `${(s.share * 100).toFixed(2)}% / ${((s.share - idleShare) * 100).toFixed(2)}% of a core`,
      '< 1%',
    ],
  ];
  process.stdout.write('| sweep cost | value | target |\n| --- | --- | --- |\n');
  for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
}

function cleanup(): void {
  while (cleanups.length > 0) {
    try {
      cleanups.pop()!();
    } catch (err) {
      say(`clean-up: ${(err as Error).message}`);
    }
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    cleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
try {
  await main();
} finally {
  cleanup();
}
