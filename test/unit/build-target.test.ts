// The build's target (src/build/target.ts): this machine's architecture and kernel BTF by
// default; another architecture only with its own kernel's BTF, never this kernel's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTarget, TargetError } from '../../src/build/target.js';

test('by default the build is native: x86 BPF headers, cc, the running kernel BTF, build/', () => {
  assert.deepEqual(buildTarget([], {}, 'x64'), {
    arch: 'x64',
    bpfArch: 'x86',
    native: true,
    cc: 'cc',
    btf: '/sys/kernel/btf/vmlinux',
    outDir: 'build',
  });
  assert.equal(buildTarget([], {}, 'arm64').bpfArch, 'arm64');
});

test('arm64 from x64 takes the flag or the environment, the cross compiler and the given BTF', () => {
  const env = { STICKYSCOPE_BTF: '/tmp/arm64.btf' };
  for (const [argv, e] of [
    [['--arch', 'arm64'], env],
    [['--arch=aarch64'], env],
    [[], { ...env, STICKYSCOPE_TARGET_ARCH: 'arm64' }],
  ] as const) {
    const t = buildTarget([...argv], e, 'x64');
    assert.equal(t.arch, 'arm64');
    assert.equal(t.bpfArch, 'arm64');
    assert.equal(t.cc, 'aarch64-linux-gnu-gcc');
    assert.equal(t.btf, '/tmp/arm64.btf');
    assert.equal(t.outDir, 'build/arm64');
    assert.equal(t.native, false);
  }
  // the flag wins over the environment
  assert.equal(buildTarget(['--arch', 'x86_64'], { STICKYSCOPE_TARGET_ARCH: 'arm64' }, 'x64').arch, 'x64');
});

test("a cross build without that architecture's BTF, an unknown arch or argument fails in one line", () => {
  assert.throws(
    () => buildTarget(['--arch', 'arm64'], {}, 'x64'),
    (e: unknown) => {
      assert.ok(e instanceof TargetError);
      assert.match(e.message, /needs an arm64 kernel's BTF, not this kernel's: set STICKYSCOPE_BTF=FILE/);
      return true;
    },
  );
  assert.throws(() => buildTarget(['--arch', 'riscv64'], {}, 'x64'), /--arch must be x64 or arm64.*got 'riscv64'/);
  assert.throws(() => buildTarget([], { STICKYSCOPE_TARGET_ARCH: 'mips' }, 'x64'), /STICKYSCOPE_TARGET_ARCH must be/);
  assert.throws(() => buildTarget(['--arch'], {}, 'x64'), /unknown argument '--arch'/);
  assert.throws(() => buildTarget(['--release'], {}, 'x64'), /unknown argument '--release'/);
  assert.throws(() => buildTarget([], {}, 's390x'), /this machine is s390x; pass --arch/);
});
