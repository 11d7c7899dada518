// `stickyscope doctor`: can this machine run the probe? One line per check, each
// failure saying what to do. Attaching for real in a namespace made for the purpose is the
// only proof a mode works: each attach mode is tried that way, then the automatic choice.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { release } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { libbpfLines, parse, VERBOSE_HELP, verboseOption, type Command } from '../command.js';
import { helperPath, startProbe } from '../../probe/probe.js';
import { ATTACH_MODES, type AttachMode } from '../../probe/record-layout.js';
import { IPVS_UNSUPPORTED, ipvsInLink, ipvsInRules } from '../../kube-proxy/ipvs.js';

const usage = `Usage: stickyscope doctor [--verbose]

Checks that this machine can run the stickyscope probe: root, kernel BTF, the built
helper and BPF object, the tools stickyscope and its lab use (clang, bpftool, iptables,
conntrack, nft), that kube-proxy on this host (if any) is not in IPVS mode (which
stickyscope cannot read), which attach modes the kernel has, and finally loads and
attaches the probe as trace and agent would, in a throwaway network namespace. Prints
one line per check; exits 0 only if all pass.

Attach modes, tried in this order when none is forced (--attach on trace and agent):
  netfilter  BPF links at the NAT hooks; needs Linux >= 6.4
  fentry     fentry/fexit on __nf_conntrack_confirm; needs BPF trampolines and BTF for
             the nf_conntrack module (Linux >= 5.11; arm64: >= 6.4) and a kernel that
             allows tracing programs
  kprobe     kprobe/kretprobe on __nf_conntrack_confirm; needs CONFIG_KPROBES

Options:
  ${VERBOSE_HELP}
  -h, --help           this text
`;

interface Result {
  ok: boolean;
  /** What to do when it failed. */
  fix?: string;
  /** What a passing check found out, printed after its name. */
  found?: string;
  /** The attach mode the probe chose. */
  mode?: AttachMode;
}

const ATTACH_TIMEOUT_MS = 10_000;

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

async function attachOnce(attach?: AttachMode, onLibbpf?: (line: string) => void): Promise<Result> {
  const ns = `stickyscope-doctor-${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    return {
      ok: false,
      fix: `could not create a test network namespace with 'ip netns add': ${(err as Error).message.split('\n')[0]}`,
    };
  }
  const probe = startProbe({ node: 'doctor', netns: `/run/netns/${ns}`, attach, onLibbpf });
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
    return { ok: true, mode: probe.attachMode };
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

/** Each mode attached for real, one after another; ok when at least one works. */
async function attachModes(onLibbpf?: (line: string) => void): Promise<Result> {
  const tried: string[] = [];
  let first: AttachMode | undefined;
  for (const mode of ATTACH_MODES) {
    const r = await attachOnce(mode, onLibbpf);
    if (r.ok) first ??= mode;
    tried.push(`${mode}: ${r.ok ? 'works' : `no (${r.fix?.replace(/^failed to /, '')})`}`);
  }
  const summary = `kernel ${release()}; ${tried.join('; ')}`;
  return first
    ? { ok: true, found: `${first} (the first that works, of netfilter, fentry, kprobe; ${summary})` }
    : { ok: false, fix: `no attach mode works (${summary}); see 'stickyscope doctor --help' for what each needs` };
}

/** The output of a command, '' when it fails or is missing. */
function output(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/** kube-proxy's mode on this host must be one the agent reads: iptables, nftables, or none at all. */
function notIpvs(): Result {
  const sign =
    ipvsInLink(output('ip', ['-d', 'link', 'show', 'kube-ipvs0'])) ??
    ipvsInRules(output('iptables-save', ['-t', 'nat']));
  return sign ? { ok: false, fix: `${IPVS_UNSUPPORTED} (${sign})` } : { ok: true };
}

async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, verboseOption);
  const onLibbpf = libbpfLines(values.verbose);
  const objectPath = fileURLToPath(new URL('../../../../build/stickyscope.bpf.o', import.meta.url));
  const checks: [string, () => Result | Promise<Result>][] = [
    [
      'root',
      () =>
        process.getuid?.() === 0
          ? { ok: true }
          : { ok: false, fix: 'run as root (the probe loads BPF programs and enters namespaces)' },
    ],
    ['kernel BTF', () => file('/sys/kernel/btf/vmlinux', 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y')],
    ['probe helper', () => file(helperPath(), "run 'npm run build'")],
    ['BPF object', () => file(objectPath, "run 'npm run build'")],
    ['clang', () => onPath('clang', 'compiles the BPF programs')],
    ['bpftool', () => onPath('bpftool', 'generates vmlinux.h and the skeleton')],
    ['iptables', () => onPath('iptables', 'reads kube-proxy rules, builds the lab')],
    ['nft', () => onPath('nft', "reads kube-proxy's nftables mode, builds the lab in that mode")],
    ['conntrack', () => onPath('conntrack', 'conntrack-tools, used by the lab and tests')],
    ['kube-proxy not in IPVS mode', notIpvs],
    [
      'attach mode',
      () => (failed === 0 ? attachModes(onLibbpf) : { ok: false, fix: 'skipped: fix the checks above first' }),
    ],
  ];
  const width = Math.max(...checks.map(([name]) => name.length), 'load and attach the probe'.length);
  let failed = 0;
  const report = (name: string, r: Result) => {
    if (!r.ok) failed++;
    const text = r.ok ? (r.found ? `${name.padEnd(width)}  ${r.found}` : name) : `${name.padEnd(width)}  ${r.fix}`;
    process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'}  ${text}\n`);
  };
  for (const [name, check] of checks) report(name, await check());
  const canAttach = failed === 0;
  report(
    'load and attach the probe',
    canAttach ? await attachOnce(undefined, onLibbpf) : { ok: false, fix: 'skipped: fix the checks above first' },
  );
  return failed === 0 ? 0 : 3;
}

export const command: Command = { usage, run };
