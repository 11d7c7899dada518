// Says whether a Node version is one package.json's engines.node allows: `node scripts/check-node.mjs [VERSION]`
// (default: this node). scripts/setup.sh runs it, so the set-up and package.json cannot disagree. The range is
// alternatives joined by `||`, each `^X.Y.Z` or `>=X.Y.Z`; anything else is refused rather than guessed at.
import { readFileSync } from 'node:fs';

const range = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node;
const version = (process.argv[2] ?? process.versions.node).replace(/^v/, '');

const triple = (text) => {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m) throw new Error(`expected a version like 20.16.0; got '${text}'`);
  return m.slice(1).map(Number);
};
const compare = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

function allows(alternative, v) {
  const m = /^(\^|>=)\s*(\S+)$/.exec(alternative.trim());
  if (!m)
    throw new Error(`package.json engines.node: expected '^X.Y.Z' or '>=X.Y.Z' alternatives; got '${alternative}'`);
  const low = triple(m[2]);
  return compare(v, low) >= 0 && (m[1] === '>=' || v[0] === low[0]);
}

try {
  const v = triple(version);
  if (range.split('||').some((alt) => allows(alt, v))) process.exit(0);
  console.error(`Node ${version} is not supported: stickyscope needs Node ${range} (package.json engines)`);
  process.exit(1);
} catch (err) {
  console.error(`check-node: ${err.message}`);
  process.exit(2);
}
