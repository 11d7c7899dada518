// The Makefile's targets (the C side of the build): this machine's architecture and kernel BTF by default;
// another architecture only with its own kernel's BTF, never this kernel's. Read from make's dry runs (-n), so
// nothing is built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** make's commands for a full rebuild (-B) with these variables, run nowhere (-n). */
function dryRun(...vars: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync('make', ['-nB', '--no-print-directory', ...vars], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

test('by default the build is native: x86 BPF headers, cc, the running kernel BTF, build/', (t) => {
  if (process.arch !== 'x64')
    return t.skip(`this checks an x86_64 machine's native build; this one is ${process.arch}`);
  const r = dryRun();
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /bpftool btf dump file \/sys\/kernel\/btf\/vmlinux format c > build\/vmlinux\.h/);
  assert.match(r.out, /clang .*-target bpf -D__TARGET_ARCH_x86 -Ibuild .*-o build\/bpf\/dnat\.o/);
  assert.match(r.out, /bpftool gen object build\/stickyscope\.bpf\.o build\/bpf\/\S+\.o/);
  assert.match(r.out, /^cc .*-o build\/stickyscope-probe /m);
});

test("arm64 takes that kernel's BTF, the cross compiler and build/arm64; uname's spelling too", () => {
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-make-'));
  try {
    const btf = join(dir, 'vmlinux.btf');
    writeFileSync(btf, '');
    for (const arch of ['arm64', 'aarch64']) {
      const r = dryRun(`ARCH=${arch}`, `BTF=${btf}`);
      assert.equal(r.status, 0, r.err);
      assert.match(r.out, new RegExp(`bpftool btf dump file ${btf} format c > build/arm64/vmlinux\\.h`));
      assert.match(r.out, /-D__TARGET_ARCH_arm64 -Ibuild\/arm64 /);
      assert.match(r.out, /^aarch64-linux-gnu-gcc .*-o build\/arm64\/stickyscope-probe /m);
      assert.doesNotMatch(r.out, /\/sys\/kernel\/btf\/vmlinux|-o build\/stickyscope-probe/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cross build without its BTF, or an unknown ARCH, fails in one line before running anything', () => {
  const noBtf = dryRun('ARCH=arm64');
  assert.notEqual(noBtf.status, 0);
  assert.match(noBtf.err, /failed to find a kernel BTF for arm64: .*not this kernel's; set BTF=FILE/);
  assert.equal(noBtf.out, '');
  const unknown = dryRun('ARCH=riscv64');
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.err, /failed to choose the target: ARCH must be x86_64 or arm64 .*got 'riscv64'/);
});
