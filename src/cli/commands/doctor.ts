// `stickyscope doctor`: can this machine run the probe? One line per check, each
// failure saying what to do; the last check really loads and attaches the probe in a
// namespace made for the purpose, which is the only proof that netfilter links work.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { release } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, type Command } from '../command.js';
import { helperPath, startProbe } from '../../probe/probe.js';

const usage = `Usage: stickyscope doctor

Checks that this machine can run the stickyscope probe: root, Linux >= 6.4 (netfilter
BPF links), kernel BTF, the built helper and BPF object, the tools stickyscope and its
lab use (clang, bpftool, iptables, conntrack), and finally loads and attaches the probe
in a throwaway network namespace. Prints one line per check; exits 0 only if all pass.
`;

interface Result {
  ok: boolean;
  /** What to do when it failed. */
  fix?: string;
}

const ATTACH_TIMEOUT_MS = 10_000;

function kernelAtLeast(major: number, minor: number): Result {
  const m = /^(\d+)\.(\d+)/.exec(release());
  const ok = m !== null && (Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor));
  return ok
    ? { ok }
    : { ok, fix: `kernel ${release()} is too old: netfilter BPF links need Linux >= ${major}.${minor}` };
}

function onPath(tool: string, why: string): Result {
  const found = (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  return found ? { ok: true } : { ok: false, fix: `${tool} not found on PATH: install it (${why})` };
}

function file(path: string, fix: string): Result {
  return existsSync(path) ? { ok: true } : { ok: false, fix: `${path} is missing: ${fix}` };
}

async function attachOnce(): Promise<Result> {
  const ns = `stickyscope-doctor-${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    return {
      ok: false,
      fix: `could not create a test network namespace with 'ip netns add': ${(err as Error).message.split('\n')[0]}`,
    };
  }
  const probe = startProbe({ node: 'doctor', netns: `/run/netns/${ns}` });
  let timer: NodeJS.Timeout | undefined;
  let onSignal: ((sig: NodeJS.Signals) => void) | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the helper did not attach within ${ATTACH_TIMEOUT_MS / 1000} s`)),
        ATTACH_TIMEOUT_MS,
      );
    });
    // Ctrl-C while the helper attaches ends the check, not the process, so the namespace is still removed below.
    const interrupted = new Promise<never>((_, reject) => {
      onSignal = (sig) => reject(new Error(`interrupted by ${sig}`));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    });
    await Promise.race([probe.ready, timeout, interrupted]);
    return { ok: true };
  } catch (err) {
    return { ok: false, fix: (err as Error).message };
  } finally {
    clearTimeout(timer);
    if (onSignal) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await probe.stop().catch(() => {});
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  }
}

async function run(argv: string[]): Promise<number> {
  parse(argv, {});
  const objectPath = fileURLToPath(new URL('../../../../build/stickyscope.bpf.o', import.meta.url));
  const checks: [string, () => Result | Promise<Result>][] = [
    [
      'root',
      () =>
        process.getuid?.() === 0
          ? { ok: true }
          : { ok: false, fix: 'run as root (the probe loads BPF programs and enters namespaces)' },
    ],
    ['kernel >= 6.4', () => kernelAtLeast(6, 4)],
    ['kernel BTF', () => file('/sys/kernel/btf/vmlinux', 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y')],
    ['probe helper', () => file(helperPath(), "run 'npm run build'")],
    ['BPF object', () => file(objectPath, "run 'npm run build'")],
    ['clang', () => onPath('clang', 'compiles the BPF programs')],
    ['bpftool', () => onPath('bpftool', 'generates vmlinux.h and the skeleton')],
    ['iptables', () => onPath('iptables', 'reads kube-proxy rules, builds the lab')],
    ['conntrack', () => onPath('conntrack', 'conntrack-tools, used by the lab and tests')],
  ];
  const width = Math.max(...checks.map(([name]) => name.length), 'load and attach the probe'.length);
  let failed = 0;
  const report = (name: string, r: Result) => {
    if (!r.ok) failed++;
    process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.ok ? name : `${name.padEnd(width)}  ${r.fix}`}\n`);
  };
  for (const [name, check] of checks) report(name, await check());
  const canAttach = failed === 0;
  report(
    'load and attach the probe',
    canAttach ? await attachOnce() : { ok: false, fix: 'skipped: fix the checks above first' },
  );
  return failed === 0 ? 0 : 3;
}

export const command: Command = { usage, run };
