// The kernel test matrix (npm run test:kernels) in npm test: the fentry and kprobe modes only
// run inside VMs (this machine's kernel refuses tracing programs and has no kprobes). Kernels:
// STICKYSCOPE_TEST_KERNELS (space-separated), default 6.1 and 5.10 (~3 min with cached images).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot, requireTools } from '../helpers/env.js';
import { KERNELS, kernelsFor, ok, runKernel, table } from '../helpers/kernel-vm/matrix.js';
import { overheadTable } from '../helpers/kernel-vm/overhead.js';

const kernels = (process.env.STICKYSCOPE_TEST_KERNELS ?? '6.1 5.10').split(/\s+/).filter(Boolean);
const tools = ['qemu-system-x86_64', 'mmdebstrap', 'mkfs.ext4'];

for (const kernel of kernels) {
  test(`Linux ${kernel} in a VM: every attach mode it has passes the lab, the others fail in one line`, {
    timeout: 20 * 60_000,
  }, async (t) => {
    if (!requireRoot(t)) return;
    assert.ok(KERNELS[kernel]?.x86_64, `unknown kernel ${kernel}; expected one of ${kernelsFor('x86_64').join(', ')}`);
    if (!requireTools(t, ...tools)) return;
    const { rows, overhead } = await runKernel(kernel, (l) => t.diagnostic(l));
    t.diagnostic(`\n${table(rows)}`);
    if (overhead.length) t.diagnostic(`\n${overheadTable(overhead)}`);
    for (const r of rows) assert.ok(ok(r), `${r.kernel} ${r.mode}: ${r.outcome}: ${r.detail}`);
    for (const o of overhead) assert.equal(o.problem, undefined, `overhead ${o.kernel} ${o.mode}`);
    assert.ok(
      rows.some((r) => r.outcome === 'pass' && r.checked > 0),
      'at least one mode checked connections',
    );
  });
}
