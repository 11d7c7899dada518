// `npm run build`, after tsc: generates vmlinux.h from the kernel's BTF, compiles every bpf/*.bpf.c, links them
// into one object, generates its skeleton and compiles the probe helper build/stickyscope-probe against it, and the
// bench's load generator build/flood. For another CPU architecture (target.ts) it builds both into build/ARCH/,
// from that architecture's kernel BTF.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStep, StepError, type Step } from './steps.js';
import { type BuildTarget, buildTarget, TargetError } from './target.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function list(dir: string, suffix: string): string[] {
  return readdirSync(join(root, dir))
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

/** One clang step per BPF program source (bpf/*.bpf.c), against the target's vmlinux.h. */
function bpfCompileSteps(t: BuildTarget): Step[] {
  const out = t.outDir;
  const headers = list('bpf', '.h');
  return list('bpf', '.bpf.c').map((src): Step => {
    const obj = join(out, 'bpf', src.slice('bpf/'.length).replace(/\.bpf\.c$/, '.o'));
    return {
      what: `compile ${src}`,
      command: [
        'clang',
        '-g',
        '-O2',
        '-Wall',
        '-target',
        'bpf',
        `-D__TARGET_ARCH_${t.bpfArch}`,
        `-I${out}`,
        '-Ibpf',
        '-c',
        src,
        '-o',
        obj,
      ],
      inputs: [src, ...headers, `${out}/vmlinux.h`],
      output: obj,
    };
  });
}

function steps(t: BuildTarget): Step[] {
  const out = t.outDir;
  const compiled = bpfCompileSteps(t);
  const objects = compiled.map((s) => s.output);
  const native = [...list('src/probe/native', '.c'), ...list('src/probe/native', '.h')];
  const all: Step[] = [
    {
      what: `generate ${out}/vmlinux.h`,
      command: ['bpftool', 'btf', 'dump', 'file', t.btf, 'format', 'c'],
      inputs: [t.btf, `${out}/btf-source`],
      output: `${out}/vmlinux.h`,
      stdoutIsOutput: true,
    },
    ...compiled,
    {
      what: 'link the BPF objects',
      command: ['bpftool', 'gen', 'object', `${out}/stickyscope.bpf.o`, ...objects],
      inputs: objects,
      output: `${out}/stickyscope.bpf.o`,
    },
    {
      what: 'generate the BPF skeleton',
      command: ['bpftool', 'gen', 'skeleton', `${out}/stickyscope.bpf.o`, 'name', 'stickyscope'],
      inputs: [`${out}/stickyscope.bpf.o`],
      output: `${out}/stickyscope.skel.h`,
      stdoutIsOutput: true,
    },
    {
      what: `compile the probe helper for ${t.arch}`,
      command: [
        t.cc,
        '-O2',
        '-g',
        '-Wall',
        '-Wextra',
        `-I${out}`,
        '-Ibpf',
        '-o',
        `${out}/stickyscope-probe`,
        ...native.filter((f) => f.endsWith('.c')),
        '-lbpf',
        '-lelf',
        '-lz',
        '-lnetfilter_conntrack',
      ],
      inputs: [...native, 'bpf/record.h', `${out}/stickyscope.skel.h`],
      output: `${out}/stickyscope-probe`,
    },
  ];
  // the kernel matrix's VMs flood too, for their overhead rows
  all.push({
    what: `compile the bench load generator for ${t.arch}`,
    command: [t.cc, '-O2', '-g', '-Wall', '-Wextra', '-o', `${out}/flood`, 'bench/flood.c'],
    inputs: ['bench/flood.c'],
    output: `${out}/flood`,
  });
  return all;
}

/** Names the BTF vmlinux.h comes from, rewritten only when that changes: another BTF file rebuilds it. */
function noteBtfSource(t: BuildTarget): void {
  const stamp = join(root, t.outDir, 'btf-source');
  let before: string | undefined;
  try {
    before = readFileSync(stamp, 'utf8');
  } catch {
    before = undefined;
  }
  if (before === `${t.btf}\n`) return;
  mkdirSync(join(root, t.outDir), { recursive: true });
  writeFileSync(stamp, `${t.btf}\n`);
}

function build(): number {
  try {
    const target = buildTarget(process.argv.slice(2), process.env, process.arch);
    noteBtfSource(target);
    for (const step of steps(target)) {
      if (runStep(step, root)) process.stdout.write(`built ${step.output}\n`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof StepError) && !(err instanceof TargetError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
}

process.exitCode = build();
