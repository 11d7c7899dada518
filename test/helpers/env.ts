// Shared by tests that touch the kernel: root detection, per-run names.
import type { TestContext } from 'node:test';
export { runPrefix } from '../../src/core/run-prefix.js';

export const inCI = process.env.CI === 'true';

/**
 * Tests that need root and BPF run in CI (which has both); elsewhere they skip and
 * say why. Returns false when the test was skipped.
 */
export function requireRoot(t: TestContext): boolean {
  if (process.getuid?.() === 0) return true;
  if (inCI) throw new Error('this test needs root and CI is expected to run as root');
  t.skip('needs root (BPF, network namespaces); run the tests as root to include it');
  return false;
}
