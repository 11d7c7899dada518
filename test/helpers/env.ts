// Shared by tests that touch the kernel or need a tool: root detection, skips, per-run names.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
export { runPrefix } from '../../src/core/run-prefix.js';

const inCI = process.env.CI === 'true';

/**
 * The one way a test skips: it says why, except under CI=true, where it fails saying the same. CI runs as root after
 * scripts/setup.sh, so everything a test needs is there, and a skip there would hide a test that never ran. Returns
 * false, for `if (...) return skip(t, why)`.
 */
export function skip(t: TestContext, why: string): false {
  if (inCI) throw new Error(`${why}, and CI must run this test (CI=true)`);
  t.skip(why);
  return false;
}

/** Tests that need root and BPF run in CI (which has both); elsewhere they skip and say why. */
export function requireRoot(t: TestContext): boolean {
  return (
    process.getuid?.() === 0 || skip(t, 'needs root (BPF, network namespaces); run the tests as root to include it')
  );
}

/** Commands on PATH the test runs (scripts/setup.sh installs them); false when skipped. */
export function requireTools(t: TestContext, ...tools: string[]): boolean {
  const missing = tools.filter((tool) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool]).status !== 0);
  return missing.length === 0 || skip(t, `needs ${missing.join(', ')} (scripts/setup.sh installs it)`);
}
