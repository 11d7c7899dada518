// The kernel matrix's overhead rows (test/helpers/kernel-vm/overhead.ts) from the files a VM leaves:
// the helper's --stats note and the flood's result line; a run that printed neither is a problem
// row, never a silent blank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overheadRows, overheadTable, parseStats } from '../helpers/kernel-vm/overhead.js';

const note = (mode: string, entry: string, ret: string, ns: [number, number], runTime = 'on') =>
  `stickyscope-probe: note: stats: mode=${mode} records=200 cpu_us=4000 user_us=1000 sys_us=3000 run_time=${runTime}` +
  ` prog.${entry}.runs=100 prog.${entry}.ns=${ns[0]} prog.${entry}.misses=0` +
  ` prog.${ret}.runs=100 prog.${ret}.ns=${ns[1]} prog.${ret}.misses=1`;

test('parseStats reads the note among other stderr lines', () => {
  const s = parseStats([
    'stickyscope-probe: note: something else',
    note('kprobe', 'ss_kprobe_confirm', 'ss_kretprobe_confirm', [5, 7]),
  ]);
  assert.deepEqual(s, {
    records: 200,
    cpuUs: 4000,
    runTime: true,
    progs: {
      ss_kprobe_confirm: { runs: 100, ns: 5, misses: 0 },
      ss_kretprobe_confirm: { runs: 100, ns: 7, misses: 1 },
    },
  });
  assert.equal(parseStats(['stickyscope-probe: failed to attach']), undefined);
});

test('overheadRows: per confirmation, per record, ratios to kprobe and to the untraced flood', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-overhead-'));
  try {
    writeFileSync(join(dir, 'overhead-none.flood'), '{"sent":3000,"seconds":2,"first":0,"next":3000}\n');
    writeFileSync(join(dir, 'overhead-fentry.flood'), '{"sent":3000,"seconds":3,"first":0,"next":3000}\n');
    writeFileSync(join(dir, 'overhead-kprobe.flood'), '{"sent":3000,"seconds":4,"first":0,"next":3000}\n');
    writeFileSync(
      join(dir, 'overhead-fentry.err'),
      `${note('fentry', 'ss_fentry_confirm', 'ss_fexit_confirm', [1000, 2000])}\n`,
    );
    writeFileSync(
      join(dir, 'overhead-kprobe.err'),
      `${note('kprobe', 'ss_kprobe_confirm', 'ss_kretprobe_confirm', [2000, 4000])}\n`,
    );
    const rows = overheadRows('6.1', 'x86_64', dir, ['fentry', 'kprobe']);
    assert.deepEqual(
      rows.map((r) => [r.mode, r.rate, r.bpfNsPerConfirm, r.cpuUsPerRecord, r.problem]),
      [
        ['none', 1500, undefined, undefined, undefined],
        ['fentry', 1000, 30, 20, undefined],
        ['kprobe', 750, 60, 20, undefined],
      ],
    );
    const table = overheadTable(rows);
    assert.match(table, /\| fentry \| 3000 +\| 0\.67x +\| 100 +\| 30 +\| 0\.50x +\| 200 +\| 20\.0 +\| 1\.00x/);

    // the helper printed no note, the flood nothing, statistics off: each is said
    writeFileSync(join(dir, 'overhead-fentry.err'), 'stickyscope-probe: failed to attach fexit\n');
    writeFileSync(join(dir, 'overhead-none.flood'), 'flood: failed to open a raw socket\n');
    writeFileSync(
      join(dir, 'overhead-kprobe.err'),
      `${note('kprobe', 'ss_kprobe_confirm', 'ss_kretprobe_confirm', [2000, 4000], 'off')}\n`,
    );
    const bad = overheadRows('6.1', 'x86_64', dir, ['fentry', 'kprobe']);
    assert.match(bad[0]!.problem ?? '', /the flood printed no result: flood: failed to open a raw socket/);
    assert.match(bad[1]!.problem ?? '', /no stats from the helper: stickyscope-probe: failed to attach fexit/);
    assert.equal(bad[2]!.problem, 'BPF run-time statistics were off');
    assert.equal(bad[2]!.bpfNsPerConfirm, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
