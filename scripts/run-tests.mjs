// Runs the compiled test files (dist/test/{unit,system,image}/**/*.test.js) with node's test
// runner: `node scripts/run-tests.mjs [unit|system|image] [name-fragment...]`. Files are listed
// explicitly because Node 20, given a folder, would also run the helpers in it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// The image suite (a container build) runs only when named: `npm run test:image`.
const suites = ['unit', 'system'];
const args = process.argv.slice(2);
const chosenSuites = [...suites, 'image'].includes(args[0] ?? '') ? [args.shift()] : suites;
const files = [];
const walk = (dir) => {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) walk(join(dir, e.name));
    else if (e.name.endsWith('.test.js')) files.push(join(dir, e.name));
  }
};
for (const s of chosenSuites) walk(join('dist/test', s));
const chosen = (args.length ? files.filter((f) => args.some((o) => f.includes(o))) : files).sort();
if (chosen.length === 0) {
  console.error(`no test files match ${args.join(' ')} in ${chosenSuites.join(', ')} (run npm run build first?)`);
  process.exit(1);
}
// Namespaces are shared by the whole machine: the suite must leave exactly what it found.
const netns = () => (process.getuid?.() === 0 ? spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout : '');
const before = netns();
// No single test may hold CI for more than 10 minutes.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=600000', ...chosen], {
  stdio: 'inherit',
});
const after = netns();
if (after !== before) {
  console.error(`network namespaces left behind by the tests:\n${after}\n(before the tests:\n${before})`);
  process.exit(1);
}
// exitCode, not exit(): on Node 24 process.exit can deadlock against a background compile job (see src/cli/main.ts).
process.exitCode = r.status ?? 1;
