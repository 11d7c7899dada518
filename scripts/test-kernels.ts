// `npm run test:kernels [-- --arch x86_64|arm64] [KERNEL...]`: the kernel test matrix
// (test/helpers/kernel-vm), one VM per kernel (default: every kernel built for the arch), printed as
// one table of checks and one of overhead; exits 1 unless every row is as expected.
import { KERNELS, kernelsFor, ok, type Row, runKernel, table } from '../test/helpers/kernel-vm/matrix.js';
import { type OverheadRow, overheadTable } from '../test/helpers/kernel-vm/overhead.js';
import type { VmArch } from '../test/helpers/kernel-vm/vm.js';

const ARCHES: Record<string, VmArch> = {
  x86_64: 'x86_64',
  x64: 'x86_64',
  amd64: 'x86_64',
  arm64: 'arm64',
  aarch64: 'arm64',
};
const USAGE = 'usage: npm run test:kernels -- [--arch x86_64|arm64] [KERNEL...]';

async function main(args: string[]): Promise<number> {
  let arch: VmArch = 'x86_64';
  const kernels: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(
        `${USAGE}\nKernels: ${Object.entries(KERNELS)
          .map(([k, v]) => `${k} (${Object.keys(v).join(', ')})`)
          .join(', ')}\n`,
      );
      return 0;
    }
    const value = a === '--arch' ? args[++i] : a.startsWith('--arch=') ? a.slice('--arch='.length) : undefined;
    if (a === '--arch' || a.startsWith('--arch=')) {
      const known = value === undefined ? undefined : ARCHES[value];
      if (!known) {
        process.stderr.write(`test:kernels: --arch must be x86_64 or arm64, got '${value ?? ''}'\n${USAGE}\n`);
        return 2;
      }
      arch = known;
    } else if (a.startsWith('-')) {
      process.stderr.write(`test:kernels: unknown option '${a}'\n${USAGE}\n`);
      return 2;
    } else kernels.push(a);
  }
  const offered = kernelsFor(arch);
  if (!kernels.length) kernels.push(...offered);
  const unknown = kernels.filter((k) => !offered.includes(k));
  if (unknown.length) {
    process.stderr.write(`test:kernels: no ${arch} kernel ${unknown.join(', ')}; expected ${offered.join(', ')}\n`);
    return 2;
  }
  const started = Date.now();
  const rows: Row[] = [];
  const overhead: OverheadRow[] = [];
  for (const k of kernels) {
    const run = await runKernel(k, (l) => process.stderr.write(`${l}\n`), arch);
    rows.push(...run.rows);
    overhead.push(...run.overhead);
  }
  process.stdout.write(`${table(rows)}\n\n`);
  if (overhead.length)
    process.stdout.write(
      `overhead (ratios within one VM run; emulation distorts absolute times):\n${overheadTable(overhead)}\n\n`,
    );
  for (const r of rows)
    if (r.outcome !== 'pass') process.stdout.write(`${r.kernel} ${r.arch} ${r.mode}: ${r.detail}\n`);
  process.stdout.write(`${arch} matrix: ${Math.round((Date.now() - started) / 1000)} s\n`);
  return rows.every(ok) && overhead.every((o) => !o.problem) ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
