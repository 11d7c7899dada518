// `npm run test:kernels [KERNEL...]`: the kernel test matrix (test/helpers/kernel-vm), one VM per
// kernel (default 6.1 and 5.10), printed as one table; exits 1 unless every row is as expected.
import { KERNELS, ok, type Row, runKernel, table } from '../test/helpers/kernel-vm/matrix.js';

async function main(args: string[]): Promise<number> {
  const kernels = args.length ? args : Object.keys(KERNELS);
  const unknown = kernels.filter((k) => !(k in KERNELS));
  if (unknown.length) {
    process.stderr.write(
      `test:kernels: unknown kernel ${unknown.join(', ')}; expected ${Object.keys(KERNELS).join(', ')}\n`,
    );
    return 2;
  }
  const rows: Row[] = [];
  for (const k of kernels) rows.push(...(await runKernel(k, (l) => process.stderr.write(`${l}\n`))));
  process.stdout.write(`${table(rows)}\n`);
  for (const r of rows) if (r.outcome !== 'pass') process.stdout.write(`${r.kernel} ${r.mode}: ${r.detail}\n`);
  return rows.every(ok) ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
