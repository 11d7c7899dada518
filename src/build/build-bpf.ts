// `npm run build`, after tsc: generates vmlinux.h from the running kernel's BTF, compiles every bpf/*.bpf.c, links them
// into one object, generates its skeleton and compiles the probe helper build/stickyscope-probe against it, and the
// bench's load generator build/flood.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStep, StepError, type Step } from './steps.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const BTF = '/sys/kernel/btf/vmlinux';

function list(dir: string, suffix: string): string[] {
  return readdirSync(join(root, dir))
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

function steps(): Step[] {
  const headers = list('bpf', '.h');
  const sources = list('bpf', '.bpf.c');
  const compiled = sources.map((src): Step => {
    const obj = join('build', 'bpf', src.slice('bpf/'.length).replace(/\.bpf\.c$/, '.o'));
    return {
      what: `compile ${src}`,
      command: [
        'clang',
        '-g',
        '-O2',
        '-Wall',
        '-target',
        'bpf',
        '-D__TARGET_ARCH_x86',
        '-Ibuild',
        '-Ibpf',
        '-c',
        src,
        '-o',
        obj,
      ],
      inputs: [src, ...headers, 'build/vmlinux.h'],
      output: obj,
    };
  });
  const objects = compiled.map((s) => s.output);
  const native = [...list('src/probe/native', '.c'), ...list('src/probe/native', '.h')];
  return [
    {
      what: 'generate build/vmlinux.h',
      command: ['bpftool', 'btf', 'dump', 'file', BTF, 'format', 'c'],
      inputs: [BTF],
      output: 'build/vmlinux.h',
      stdoutIsOutput: true,
    },
    ...compiled,
    {
      what: 'link the BPF objects',
      command: ['bpftool', 'gen', 'object', 'build/stickyscope.bpf.o', ...objects],
      inputs: objects,
      output: 'build/stickyscope.bpf.o',
    },
    {
      what: 'generate the BPF skeleton',
      command: ['bpftool', 'gen', 'skeleton', 'build/stickyscope.bpf.o', 'name', 'stickyscope'],
      inputs: ['build/stickyscope.bpf.o'],
      output: 'build/stickyscope.skel.h',
      stdoutIsOutput: true,
    },
    {
      what: 'compile the probe helper',
      command: [
        'cc',
        '-O2',
        '-g',
        '-Wall',
        '-Wextra',
        '-Ibuild',
        '-Ibpf',
        '-o',
        'build/stickyscope-probe',
        ...native.filter((f) => f.endsWith('.c')),
        '-lbpf',
        '-lelf',
        '-lz',
      ],
      inputs: [...native, 'bpf/record.h', 'build/stickyscope.skel.h'],
      output: 'build/stickyscope-probe',
    },
    {
      what: 'compile the bench load generator',
      command: ['cc', '-O2', '-g', '-Wall', '-Wextra', '-o', 'build/flood', 'bench/flood.c'],
      inputs: ['bench/flood.c'],
      output: 'build/flood',
    },
  ];
}

function build(): number {
  try {
    for (const step of steps()) {
      if (runStep(step, root)) process.stdout.write(`built ${step.output}\n`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof StepError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
}

process.exitCode = build();
