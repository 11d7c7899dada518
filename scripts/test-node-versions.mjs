// Runs the compiled unit tests (dist/, built by `npm run build`) on the other supported Node
// versions, from the npm `node` package cached outside the clone: `node scripts/test-node-versions.mjs [VERSION...]`.
// Prints each version's pass/fail counts; exits 1 if any version failed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

// Exact versions, so a CI run is reproducible and the cache key says what it holds; bump them here.
const DEFAULT_VERSIONS = ['22.23.3', '24.21.0'];

const versions = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_VERSIONS;
for (const v of versions) {
  if (!/^\d+\.\d+\.\d+$/.test(v)) {
    console.error(`test-node-versions: expected exact versions like 22.23.3; got '${v}'`);
    process.exit(2);
  }
}
if (!existsSync('dist/test/unit')) {
  console.error('test-node-versions: failed to find dist/test/unit; run npm run build first');
  process.exit(2);
}

const cacheRoot =
  process.env.STICKYSCOPE_CACHE ??
  (process.getuid?.() === 0 ? '/var/cache/stickyscope' : join(homedir(), '.cache', 'stickyscope'));

/** The node binary of `version`, installed into the cache on first use. */
function nodeBinary(version) {
  const dir = join(cacheRoot, `node-${version}`);
  const bin = join(dir, 'node_modules', 'node', 'bin', 'node');
  if (versionOf(bin) === `v${version}`) return bin;
  // Installed beside the final place and renamed into it, so an interrupted install is never taken for a good one.
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  console.error(`test-node-versions: installing node@${version} into ${dir}`);
  const npm = spawnSync(
    'npm',
    ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', partial, `node@${version}`],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const got = versionOf(join(partial, 'node_modules', 'node', 'bin', 'node'));
  if (npm.status !== 0 || got !== `v${version}`) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`failed to install node@${version} with npm (exit ${npm.status}); its binary reports ${got}`);
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return bin;
}

function versionOf(bin) {
  if (!existsSync(bin)) return 'nothing (not installed)';
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : `an error (exit ${r.status}: ${r.stderr.trim().split('\n')[0]})`;
}

/** Runs the unit suite with `bin`; the TAP output is kept, and shown only if the run failed. */
function runUnit(bin) {
  const started = Date.now();
  // `node` on PATH is the tested one too, for anything started by name.
  const env = { ...process.env, PATH: `${dirname(bin)}${delimiter}${process.env.PATH}` };
  const child = spawn(bin, ['scripts/run-tests.mjs', 'unit'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    output += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    output += d;
  });
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      // The summary: `# pass N` from the TAP reporter (Node 20 and 22 when piped), `ℹ pass N` from spec (Node 23+).
      const count = (name) => Number(new RegExp(`^(?:#|ℹ) ${name} (\\d+)$`, 'm').exec(output)?.[1] ?? Number.NaN);
      resolve({
        code: code ?? signal,
        output,
        seconds: Math.round((Date.now() - started) / 1000),
        tests: count('tests'),
        pass: count('pass'),
        fail: count('fail'),
        skipped: count('skipped'),
        cancelled: count('cancelled'),
      });
    }),
  );
}

// The versions run side by side: each suite runs its files one at a time, so on a machine of two or more cores they
// take the time of one (CI's clock is the budget: about 5 minutes saved).
const binaries = versions.map((version) => {
  try {
    return { version, bin: nodeBinary(version) };
  } catch (err) {
    return { version, error: err.message };
  }
});
const results = await Promise.all(binaries.map((b) => (b.bin ? runUnit(b.bin) : undefined)));
const lines = [];
let failed = false;
binaries.forEach(({ version, error }, i) => {
  const r = results[i];
  if (!r) {
    failed = true;
    lines.push(`node ${version}: ${error}`);
    return;
  }
  // A run whose summary cannot be read did not show that the tests pass.
  const ok = r.code === 0 && r.fail === 0 && r.cancelled === 0 && r.pass > 0;
  if (!ok) {
    failed = true;
    process.stdout.write(`\n--- unit tests on node ${version} (full output) ---\n${r.output}\n`);
  }
  lines.push(
    `node ${version}: ${ok ? 'ok' : 'FAILED'}: ${r.tests} tests, ${r.pass} pass, ${r.fail} fail, ${r.cancelled} cancelled, ${r.skipped} skipped (exit ${r.code}, ${r.seconds}s)`,
  );
});
console.log(`\nunit tests on other Node versions:\n${lines.map((l) => `  ${l}`).join('\n')}`);
// exitCode, not exit(): on Node 24 process.exit can deadlock against a background compile job (see src/cli/main.ts).
process.exitCode = failed ? 1 : 0;
