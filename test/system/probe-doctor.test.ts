// `stickyscope doctor` end to end, as a user runs it. Ground truth: the machine's own
// state (root or not) and the namespace list before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requireRoot } from '../helpers/env.js';

const cli = fileURLToPath(new URL('../../../bin/stickyscope.js', import.meta.url));
const doctorNamespaces = () =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('stickyscope-doctor-'));

test('as root on a capable machine every check passes, and the test namespace is gone', (t) => {
  if (!requireRoot(t)) return;
  const before = doctorNamespaces();
  const r = spawnSync(process.execPath, [cli, 'doctor'], { encoding: 'utf8' });
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // root, BTF, helper, object, clang, bpftool, iptables, nft, conntrack, IPVS, attach mode, load and attach.
  assert.equal(lines.length, 12, r.stdout);
  assert.ok(
    lines.some((l) => l.startsWith('ok    kube-proxy not in IPVS mode')),
    r.stdout,
  );
  assert.match(r.stdout, /^ok {4}attach mode +netfilter /m);
  assert.ok(
    lines.every((l) => l.startsWith('ok  ')),
    r.stdout,
  );
  assert.equal(lines.at(-1), 'ok    load and attach the probe');
  assert.deepEqual(doctorNamespaces(), before);
});

test('without root the root check fails with what to do, and the exit code is non-zero', (t) => {
  if (!requireRoot(t)) return;
  const r = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cli, 'doctor'],
    { encoding: 'utf8' },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stdout, /^FAIL {2}root +run as root/m);
  assert.match(r.stdout, /^FAIL {2}load and attach the probe +skipped/m);
});
