// `npm run bench:idle`: what the agent costs a node (issue 32). The real `stickyscope agent` on a lab node, its CPU
// with the probe helper and every process it spawns (reaped children: iptables-save, nft; live ones: the helper, the
// `nft monitor`), over IDLE_SECONDS (default 60) from IDLE_SETTLE_SECONDS (default 20) after its start: with no traffic, on the default lab and on one with 5,000 more
// Services, in both proxy modes; in nftables mode with one affinity set of IDLE_SET_ELEMENTS (65,000) clients, idle
// and with a trickle of pins; and at 1,000 new connections a second on the default lab. Each row is measured with
// the rules polled every second (--rules-poll, what the agent did before) and watched (the default), in the same
// run. Timings on a shared machine are noisy: compare rows of one run.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig, type LabConfig, type ProxyMode } from '../../src/lab/config.js';
import { labDown, labUp, runClient, type Lab } from '../../src/lab/lab.js';
import { runPrefix } from '../../src/core/run-prefix.js';

const SECONDS = Number(process.env.IDLE_SECONDS ?? 60);
const BIG = Number(process.env.IDLE_SERVICES ?? 5000);
/** Lab sizes to measure: "default", "big", "set" (nftables, one affinity set of IDLE_SET_ELEMENTS clients). */
const LABS = (process.env.IDLE_LABS ?? 'default big set').split(' ');
/** Clients in the "set" lab's affinity set (issue 31 item 2: 65,000 took the agent and nft to 0.98 of a core). */
const SET_ELEMENTS = Number(process.env.IDLE_SET_ELEMENTS ?? 65_000);
const TICK = 100; // CLK_TCK on Linux
const cli = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime+stime (+ cutime+cstime) of a process, in seconds; 0 once it is gone. */
function cpuOf(pid: number, reaped: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(f[i - 3]);
    return (n(14) + n(15) + (reaped ? n(16) + n(17) : 0)) / TICK;
  } catch {
    return 0;
  }
}

/** The agent, what it reaped, and every live descendant with what they reaped. */
function treeCpu(root: number): number {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const inTree = (pid: number): boolean => pid === root || (parent.has(pid) && pid > 1 && inTree(parent.get(pid)!));
  let total = 0;
  for (const pid of parent.keys()) if (inTree(pid)) total += cpuOf(pid, true);
  return total;
}

async function startAgent(lab: Lab, dir: string, poll: boolean): Promise<{ pid: number; stop: () => Promise<void> }> {
  const ready = join(dir, `agent-${poll}.ready`);
  const child = spawn(
    process.execPath,
    [
      cli,
      'agent',
      '--netns',
      lab.nodeNetnsPath(0),
      '--listen',
      '127.0.0.1:0',
      '--node-name',
      lab.nodes[0]!,
      '--ready-file',
      ready,
      ...lab.tls.agentArgs(0),
      ...(poll ? ['--rules-poll'] : []),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  for (const end = Date.now() + 30_000; !existsSync(ready); await sleep(50)) {
    if (child.exitCode !== null || Date.now() > end) throw new Error('failed to start the agent for the idle bench');
  }
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** % of a core the agent's tree used over SECONDS, while `load` runs (if any). */
async function measure(lab: Lab, dir: string, poll: boolean, load?: () => Promise<number>): Promise<string> {
  const agent = await startAgent(lab, dir, poll);
  try {
    // Its first reads and the monitor's start are not the idle cost: with 5,000 Services they take seconds.
    await sleep(Number(process.env.IDLE_SETTLE_SECONDS ?? 20) * 1000);
    const t0 = performance.now();
    const c0 = treeCpu(agent.pid);
    const rate = load ? await load() : 0;
    if (!load) await sleep(SECONDS * 1000);
    const c1 = treeCpu(agent.pid);
    const pct = ((c1 - c0) / ((performance.now() - t0) / 1000)) * 100;
    return `${pct.toFixed(2)}%${load ? ` (${Math.round(rate)} conn/s)` : ''}`;
  } finally {
    await agent.stop();
  }
}

/** Fills the first affinity set of lab/sticky:http in the node's `ip kube-proxy` table with `n` made-up clients. */
async function fillAffinitySet(lab: Lab, n: number, dir: string): Promise<string> {
  const node = lab.nodes[0]!;
  const listed = execFileSync('ip', ['netns', 'exec', node, 'nft', '-j', 'list', 'sets', 'ip'], { encoding: 'utf8' });
  const names = (JSON.parse(listed).nftables as { set?: { name: string; table: string } }[])
    .flatMap((o) => (o.set && o.set.table === 'kube-proxy' && o.set.name.includes('sticky') ? [o.set.name] : []))
    .sort();
  const set = names[0];
  if (!set)
    throw new Error(`failed to find an affinity set of lab/sticky:http in ${node}; sets: ${listed.slice(0, 300)}`);
  const lines: string[] = [];
  for (let i = 0; i < n; i += 5000) {
    const chunk = Array.from({ length: Math.min(5000, n - i) }, (_, k) => {
      const j = i + k;
      return `10.${200 + (j >> 16)}.${(j >> 8) & 255}.${j & 255}`;
    });
    lines.push(`add element ip kube-proxy ${set} { ${chunk.join(', ')} }`);
  }
  const file = join(dir, 'fill.nft');
  writeFileSync(file, `${lines.join('\n')}\n`);
  execFileSync('ip', ['netns', 'exec', node, 'nft', '-f', file]);
  return set;
}

/** A new connection to lab/sticky:http every 200 ms for SECONDS (each pins or refreshes a client in its set). */
async function trickle(lab: Lab): Promise<number> {
  const c = lab.clients.find((x) => !x.external)!;
  const t0 = Date.now();
  const r = await runClient(lab, c.name, {
    service: 'lab/sticky:http',
    mode: 'http',
    count: SECONDS * 5,
    durationMs: SECONDS * 1000,
    intervalMs: 200,
  });
  return r.length / ((Date.now() - t0) / 1000);
}

/** New connections at about 1,000 a second for SECONDS, from three clients; returns the rate reached. */
async function thousandPerSecond(lab: Lab): Promise<number> {
  const clients = lab.clients.filter((c) => !c.external).slice(0, 3);
  const t0 = Date.now();
  const results = await Promise.all(
    clients.map((c, i) =>
      runClient(lab, c.name, {
        service: i === 0 ? 'lab/sticky:http' : 'lab/web:http',
        mode: 'http',
        count: Math.round((SECONDS * 1000) / 3),
        durationMs: SECONDS * 1000,
        intervalMs: 2,
      }),
    ),
  );
  return results.reduce((n, r) => n + r.length, 0) / ((Date.now() - t0) / 1000);
}

function withServices(c: LabConfig, n: number): LabConfig {
  const web = c.services.find((s) => s.name === 'web')!;
  for (let i = 1; i <= n; i++)
    c.services.push({ ...web, name: `many-${i}`, clusterIP: `10.97.${i >> 8}.${i & 255}`, endpoints: web.endpoints });
  return c;
}

/** nftables mode, one affinity set of SET_ELEMENTS clients: idle, and with a trickle of pins (rules watched). */
async function setRows(dir: string, rows: { push: (r: string[]) => void }): Promise<void> {
  const prefix = runPrefix();
  const lab = await labUp({ prefix, config: defaultConfig({ proxyMode: 'nftables' }) });
  try {
    await fillAffinitySet(lab, SET_ELEMENTS, dir);
    const label = `nftables, default lab + one affinity set of ${SET_ELEMENTS.toLocaleString('en-US')} clients`;
    rows.push([label, 'idle', 'watched', await measure(lab, dir, false)]);
    rows.push([label, '5 conn/s pinned', 'watched', await measure(lab, dir, false, () => trickle(lab))]);
  } finally {
    await labDown(prefix);
  }
  process.stderr.write('idle bench: nftables affinity set done\n');
}

async function main(): Promise<void> {
  process.stdout.write(`| lab | load | rules | agent + helper + children, % of a core over ${SECONDS} s |\n`);
  process.stdout.write('| --- | --- | --- | --- |\n');
  // Each row as it is measured: an interrupted run keeps what it had.
  const rows = { push: (r: string[]) => process.stdout.write(`| ${r.join(' | ')} |\n`) };
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-idle-'));
  try {
    if (LABS.includes('set')) await setRows(dir, rows);
    for (const proxyMode of ['iptables', 'nftables'] as ProxyMode[]) {
      for (const big of [false, true].filter((b) => LABS.includes(b ? 'big' : 'default'))) {
        const prefix = runPrefix();
        const config = defaultConfig({ proxyMode });
        const lab = await labUp({ prefix, config: big ? withServices(config, BIG) : config });
        try {
          const label = `${proxyMode}, ${big ? `default lab + ${BIG} Services` : 'default lab'}`;
          for (const poll of [true, false])
            rows.push([label, 'idle', poll ? 'polled' : 'watched', await measure(lab, dir, poll)]);
          if (!big)
            for (const poll of [true, false])
              rows.push([
                label,
                '1,000 conn/s',
                poll ? 'polled' : 'watched',
                await measure(lab, dir, poll, () => thousandPerSecond(lab)),
              ]);
        } finally {
          await labDown(prefix);
        }
        process.stderr.write(`idle bench: ${proxyMode} ${big ? 'big' : 'default'} done\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
