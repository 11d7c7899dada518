// The image's cache steps (scripts/image-inputs.sh), cheap enough for every CI run: Debian's smallest variant
// (extract, no packages: seconds) into a fresh cache folder. The full image suite (npm run test:image) runs these
// same steps on minbase, cold once per machine; a wrong output format or a stale cache key showed there only on a
// fresh machine, and CI, whose cache was warm, never saw it. Ground truth: tar's own reading of each file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireRoot, runPrefix } from '../helpers/env.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** image-inputs.sh from `repo` with its cache in `cache`: the three paths it prints. */
function inputs(repo: string, cache: string): string[] {
  const out = execFileSync('bash', [join(repo, 'scripts/image-inputs.sh'), '--variant', 'extract'], {
    encoding: 'utf8',
    env: { ...process.env, STICKYSCOPE_CACHE: cache },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.trim().split('\n');
}

const tarList = (file: string, gzip = false) =>
  execFileSync('tar', [gzip ? '-tzf' : '-tf', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n');

test('image inputs: made as tar files into an empty cache, reused, remade when interrupted or when the script changes', {
  timeout: 300_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), `${runPrefix()}-image-inputs-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cache = join(dir, 'cache');

  const [rootfs, node, npm] = inputs(ROOT, cache);
  assert.ok(rootfs && node && npm, 'three paths printed');
  assert.ok(statSync(rootfs).isFile(), `${rootfs} is a file (mmdebstrap makes a directory of an unknown extension)`);
  assert.ok(tarList(rootfs).includes('./etc/'), `${rootfs} is a tar archive of a root file system`);
  assert.ok(tarList(node, true).includes('package/bin/node'), `${node} holds Node's binary`);
  assert.ok(tarList(npm, true).includes('package/bin/npm-cli.js'), `${npm} holds npm`);

  // Warm: the same files, none remade.
  const mtimes = () => [rootfs, node, npm].map((f) => statSync(f).mtimeMs);
  const before = mtimes();
  assert.deepEqual(inputs(ROOT, cache), [rootfs, node, npm]);
  assert.deepEqual(mtimes(), before, 'a warm cache remakes nothing');

  // What an interrupted run leaves (the old bug's directory under the temporary name, a half-packed package) is
  // never taken as made.
  rmSync(rootfs);
  rmSync(npm);
  mkdirSync(`${rootfs}.part/etc`, { recursive: true });
  mkdirSync(join(cache, 'image', 'pack.stale'));
  writeFileSync(join(cache, 'image', 'pack.stale', 'half.tgz'), 'half');
  assert.deepEqual(inputs(ROOT, cache), [rootfs, node, npm]);
  assert.ok(tarList(rootfs).includes('./etc/'));
  assert.ok(tarList(npm, true).includes('package/bin/npm-cli.js'));
  assert.equal(existsSync(`${rootfs}.part`), false, 'the interrupted run’s leftovers are removed');
  assert.equal(existsSync(join(cache, 'image', 'pack.stale')), false);

  // A changed mmdebstrap step (a copy of the script with one more exclusion) makes a new file and drops the old one.
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, 'scripts'), { recursive: true });
  mkdirSync(join(repo, 'deploy'));
  copyFileSync(join(ROOT, 'deploy/Dockerfile'), join(repo, 'deploy/Dockerfile'));
  const script = readFileSync(join(ROOT, 'scripts/image-inputs.sh'), 'utf8');
  const changed = script.replace(
    "--dpkgopt='path-exclude=/usr/share/info/*'",
    "$& --dpkgopt='path-exclude=/usr/share/zoneinfo/*'",
  );
  assert.notEqual(changed, script, 'the test found the line it changes');
  writeFileSync(join(repo, 'scripts/image-inputs.sh'), changed);
  const [remade] = inputs(repo, cache);
  assert.notEqual(remade, rootfs, 'a changed mmdebstrap step gives a new cache key');
  assert.ok(tarList(remade!).includes('./etc/'));
  assert.equal(existsSync(rootfs), false, 'the old variant’s file is replaced, not kept');
});
