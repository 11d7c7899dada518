// `export --format parquet -o OUT` onto a disk that fills up (a 256 KiB tmpfs): one line naming OUT and ENOSPC,
// exit 3, and nothing left on the disk: neither OUT nor the temporary file it was being written as.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StickyEvent } from '../../src/core/event.js';
import { TraceWriter } from '../../src/record/trace-writer.js';
import { runCli } from '../helpers/cli.js';
import { requireRoot, runPrefix } from '../helpers/env.js';

test('export to Parquet on a full disk: exit 3, one line, no partial file left', { timeout: 120_000 }, async (t) => {
  if (!requireRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix('pqfull')}-`));
  const disk = join(dir, 'disk');
  execFileSync('mkdir', [disk]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
  t.after(() => {
    execFileSync('umount', [disk]);
    rmSync(dir, { recursive: true, force: true });
  });
  // 100,000 distinct flows: several MB of Parquet, many times what the disk holds.
  const trace = join(dir, 'big.trace');
  const w = await TraceWriter.open(trace);
  const T0 = Date.UTC(2026, 10, 23, 12) * 1000;
  for (let i = 0; i < 100_000; i += 5000)
    await w.append(
      Array.from(
        { length: 5000 },
        (_, j): StickyEvent => ({
          type: 'dnat',
          ts: T0 + i + j,
          node: 'n1',
          proto: 'tcp',
          client: `10.0.${((i + j) >> 8) & 255}.${(i + j) & 255}:${1024 + ((i + j) % 60000)}`,
          service: '10.96.0.1:80',
          backend: `10.1.0.${(i + j) % 7}:80`,
          hook: 'prerouting',
          ctId: (i + j).toString(16).padStart(16, '0'),
        }),
      ),
    );
  await w.close();
  const out = join(disk, 'big.parquet');
  const r = await runCli(['export', trace, '--format', 'parquet', '-w', out]);
  assert.equal(
    r.stderr,
    `stickyscope export: failed to write Parquet to ${out}: no space left on the device (ENOSPC)\n`,
  );
  assert.equal(r.code, 3);
  assert.deepEqual(readdirSync(disk), [], 'neither OUT nor its temporary file is left');
});
