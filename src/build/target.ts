// Which CPU architecture the build targets (--arch ARCH or STICKYSCOPE_TARGET_ARCH, default this
// machine's) and what follows from it: the BPF headers' __TARGET_ARCH_*, the C compiler, the
// kernel BTF vmlinux.h comes from (STICKYSCOPE_BTF) and the output directory.

export class TargetError extends Error {}

type Arch = 'x64' | 'arm64';

export interface BuildTarget {
  arch: Arch;
  /** bpf_tracing.h's name for it: reads kprobe arguments from this architecture's pt_regs. */
  bpfArch: 'x86' | 'arm64';
  /** Built for the machine that builds. */
  native: boolean;
  cc: string;
  /** Kernel BTF that build/vmlinux.h is generated from. */
  btf: string;
  /** Relative to the repository: build, or build/ARCH for another architecture. */
  outDir: string;
}

const ARCHES: Record<Arch, { bpfArch: BuildTarget['bpfArch']; crossCc: string }> = {
  x64: { bpfArch: 'x86', crossCc: 'x86_64-linux-gnu-gcc' },
  arm64: { bpfArch: 'arm64', crossCc: 'aarch64-linux-gnu-gcc' },
};
/** The names uname and Debian use, beside Node's. */
const ALIASES: Record<string, Arch> = { x64: 'x64', x86_64: 'x64', amd64: 'x64', arm64: 'arm64', aarch64: 'arm64' };
const HOST_BTF = '/sys/kernel/btf/vmlinux';

function parseArch(text: string, from: string): Arch {
  const arch = ALIASES[text];
  if (!arch) throw new TargetError(`build: ${from} must be x64 or arm64 (or x86_64, amd64, aarch64), got '${text}'`);
  return arch;
}

export function buildTarget(argv: string[], env: NodeJS.ProcessEnv, hostArch: string): BuildTarget {
  let flag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--arch' && i + 1 < argv.length) flag = argv[++i];
    else if (a.startsWith('--arch=')) flag = a.slice('--arch='.length);
    else throw new TargetError(`build: unknown argument '${a}'; expected --arch x64|arm64`);
  }
  const host = ALIASES[hostArch];
  const arch =
    flag !== undefined
      ? parseArch(flag, '--arch')
      : env.STICKYSCOPE_TARGET_ARCH
        ? parseArch(env.STICKYSCOPE_TARGET_ARCH, 'STICKYSCOPE_TARGET_ARCH')
        : host;
  if (!arch)
    throw new TargetError(`build: this machine is ${hostArch}; pass --arch x64|arm64 to say what to build for`);
  const native = arch === host;
  const btf = env.STICKYSCOPE_BTF || (native ? HOST_BTF : undefined);
  if (!btf)
    throw new TargetError(
      `build: building for ${arch} on ${hostArch} needs an ${arch} kernel's BTF, not this kernel's: set STICKYSCOPE_BTF=FILE` +
        (arch === 'arm64'
          ? " (npm run test:kernels -- --arch arm64 cuts one out of Debian's arm64 kernel into /var/cache/stickyscope/vm/arm64/6.1/vmlinux.btf)"
          : ''),
    );
  return {
    arch,
    bpfArch: ARCHES[arch].bpfArch,
    native,
    cc: native ? 'cc' : ARCHES[arch].crossCc,
    btf,
    outDir: native ? 'build' : `build/${arch}`,
  };
}
