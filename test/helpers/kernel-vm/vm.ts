// One test VM run: the cached image of a kernel (scripts/vm/build-image.sh), a payload disk
// (ext4, made here) and a results disk the VM writes a tar onto; qemu under TCG (x86_64 or
// arm64), killed at the end whatever happened. Says whether the VM booted, finished or timed out.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const vmScripts = join(root, 'scripts/vm');

export type VmStatus = 'finished' | 'no-image' | 'boot-failure' | 'timeout';

export type VmArch = 'x86_64' | 'arm64';

/** How each architecture boots: its qemu, machine and serial console. */
const MACHINES: Record<VmArch, { qemu: string; machine: string[]; console: string }> = {
  x86_64: { qemu: 'qemu-system-x86_64', machine: ['-cpu', 'max'], console: 'ttyS0' },
  // pauth-impdef: QEMU's own pointer-authentication hash, far cheaper to emulate than the architected one
  arm64: { qemu: 'qemu-system-aarch64', machine: ['-M', 'virt', '-cpu', 'max,pauth-impdef=on'], console: 'ttyAMA0' },
};

export function qemuFor(arch: VmArch): string {
  return MACHINES[arch].qemu;
}

export interface VmRun {
  status: VmStatus;
  /** What went wrong, for anything but 'finished'. */
  detail: string;
  /** The files the payload wrote (empty unless finished). */
  results: string;
  serial: string;
  seconds: number;
}

/** Builds the kernel's image unless cached; its directory, or the build's failure line. */
export function ensureImage(kernel: string, arch: VmArch = 'x86_64'): { dir?: string; error?: string } {
  const r = spawnSync('bash', [join(vmScripts, 'build-image.sh'), kernel, arch], { encoding: 'utf8' });
  if (r.status === 0) return { dir: r.stdout.trim().split('\n').at(-1)! };
  const line = r.stderr.trim().split('\n').filter(Boolean).at(-1) ?? `exited ${r.status ?? r.signal}`;
  return { error: line };
}

/**
 * The directory with the probe helper and flood for the VM: this build's for x86_64; for arm64
 * cross-built into build/arm64 (make ARCH=arm64 BTF=FILE) against the image kernel's BTF.
 */
function probeHelper(arch: VmArch, imageDir: string): { path?: string; error?: string } {
  if (arch === 'x86_64') return { path: join(root, 'build') };
  const r = spawnSync('make', ['--no-print-directory', 'ARCH=arm64', `BTF=${join(imageDir, 'vmlinux.btf')}`], {
    cwd: root,
    encoding: 'utf8',
  });
  if (r.status !== 0)
    return {
      error: `failed to cross-build the arm64 probe helper: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    };
  return { path: join(root, 'build/arm64') };
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`failed to run ${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

/**
 * The payload disk: the in-VM scripts, the probe helper, Node (this one on x86_64; the image's
 * Debian nodejs on arm64), and the run's settings.
 */
function payloadDisk(dir: string, arch: VmArch, binaries: string, settings: Record<string, string>): string {
  const p = join(dir, 'payload');
  mkdirSync(p);
  for (const f of ['run.sh', 'backend.mjs', 'client.mjs']) copyFileSync(join(vmScripts, f), join(p, f));
  for (const f of ['stickyscope-probe', 'flood']) copyFileSync(join(binaries, f), join(p, f));
  if (arch === 'x86_64') copyFileSync(process.execPath, join(p, 'node'));
  else symlinkSync('/usr/bin/node', join(p, 'node'));
  for (const [name, value] of Object.entries(settings)) writeFileSync(join(p, name), value ? `${value}\n` : '');
  spawnSync('chmod', [
    '755',
    join(p, 'run.sh'),
    join(p, 'stickyscope-probe'),
    join(p, 'flood'),
    ...(arch === 'x86_64' ? [join(p, 'node')] : []),
  ]);
  const img = join(dir, 'payload.img');
  sh('truncate', ['-s', '256M', img]);
  sh('mkfs.ext4', ['-q', '-F', '-d', p, img]);
  rmSync(p, { recursive: true });
  return img;
}

export async function runVm(
  kernel: string,
  settings: Record<string, string>,
  timeoutMs: number,
  onSerial?: (line: string) => void,
  arch: VmArch = 'x86_64',
): Promise<VmRun> {
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 100) / 10;
  const image = ensureImage(kernel, arch);
  if (!image.dir) return { status: 'no-image', detail: image.error!, results: '', serial: '', seconds: seconds() };
  const probe = probeHelper(arch, image.dir);
  if (!probe.path) return { status: 'no-image', detail: probe.error!, results: '', serial: '', seconds: seconds() };
  const dir = mkdtempSync(join(tmpdir(), `ss-vm-${arch}-${kernel}-`));
  const results = join(dir, 'results');
  mkdirSync(results);
  const payload = payloadDisk(dir, arch, probe.path, settings);
  const out = join(dir, 'results.img');
  sh('truncate', ['-s', '64M', out]);
  const machine = MACHINES[arch];
  const args = [
    ...machine.machine,
    ...['-accel', 'tcg', '-m', '1024', '-smp', '2', '-nographic', '-no-reboot'],
    ...['-kernel', join(image.dir, 'vmlinuz'), '-initrd', join(image.dir, 'initrd.img')],
    ...['-drive', `file=${join(image.dir, 'rootfs.img')},format=raw,if=virtio,snapshot=on`],
    ...['-drive', `file=${payload},format=raw,if=virtio,readonly=on`],
    ...['-drive', `file=${out},format=raw,if=virtio`],
    ...['-append', `console=${machine.console} root=/dev/vda rw init=/sbin/vm-init.sh panic=-1 quiet no_timer_check`],
  ];
  const qemu = spawn(machine.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // also when this process ends first (a test runner's timeout, Ctrl-C): no VM outlives its test
  const killQemu = () => {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
  };
  process.once('exit', killQemu);
  let serial = '';
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('latin1');
    serial += text;
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (l.startsWith('ss-vm:')) onSerial?.(l.trim());
  };
  qemu.stdout.on('data', onData);
  qemu.stderr.on('data', onData);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, timeoutMs);
  const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    qemu.on('error', (error) => resolve({ code: null, error }));
    qemu.on('close', (code) => resolve({ code }));
  });
  clearTimeout(timer);
  killQemu();
  process.removeListener('exit', killQemu);
  try {
    const run = (status: VmStatus, detail: string): VmRun => ({ status, detail, results, serial, seconds: seconds() });
    if (exit.error) return run('boot-failure', `failed to start ${machine.qemu}: ${exit.error.message}`);
    const lines = serial.trim().split('\n');
    // a panic's reason comes well before the stack trace that ends the serial output
    const panic = lines.find((l) => /Kernel panic/.test(l));
    const tail = [...(panic ? [panic.trim(), '...'] : []), ...lines.slice(-3)].join(' | ');
    if (timedOut) return run('timeout', `no poweroff within ${timeoutMs / 1000} s; serial: ${tail}`);
    const untar = spawnSync('tar', ['-xf', out, '-C', results], { encoding: 'utf8' });
    let code = '';
    try {
      code = readFileSync(join(results, 'exit-code'), 'utf8').trim();
    } catch {
      return run(
        'boot-failure',
        `the VM wrote no results (qemu exit ${exit.code}, tar: ${untar.stderr.trim()}); serial: ${tail}`,
      );
    }
    if (code !== '0') return run('boot-failure', `the payload exited ${code}; serial: ${tail}`);
    return run('finished', '');
  } finally {
    rmSync(payload, { force: true });
    rmSync(out, { force: true });
  }
}

/** Removes what runVm left (the results directory and its parent), unless STICKYSCOPE_VM_KEEP is set. */
export function removeRun(run: VmRun): void {
  if (process.env.STICKYSCOPE_VM_KEEP) {
    process.stderr.write(`kept ${run.results}\n`);
    return;
  }
  if (run.results && basename(run.results) === 'results')
    rmSync(join(run.results, '..'), { recursive: true, force: true });
}
