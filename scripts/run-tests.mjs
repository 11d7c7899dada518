// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner.
// Listed explicitly because Node 20, given a folder, would also run the helpers in it.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) walk(join(dir, e.name));
    else if (e.name.endsWith('.test.js')) files.push(join(dir, e.name));
  }
};
walk('dist/test');
const only = process.argv.slice(2);
const chosen = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files.sort();
// No single test may hold CI for more than 10 minutes.
// Namespaces are shared by the whole machine: the suite must leave exactly what it found.
const netns = () => (process.getuid?.() === 0 ? spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout : '');
const before = netns();
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=600000', ...chosen], { stdio: 'inherit' });
const after = netns();
if (after !== before) {
  console.error(`network namespaces left behind by the tests:\n${after}\n(before the tests:\n${before})`);
  process.exit(1);
}
process.exit(r.status ?? 1);
