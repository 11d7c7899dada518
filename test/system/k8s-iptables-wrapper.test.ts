// deploy/iptables-save (the image's wrapper) reads kube-proxy's rules from whichever
// iptables backend holds them. Checked in a throwaway network namespace holding rules
// in both backends, each tagged so the output says which one was read.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireRoot, runPrefix } from '../helpers/env.js';

const WRAPPER = fileURLToPath(new URL('../../../deploy/iptables-save', import.meta.url));

/** A throwaway namespace (deleted after the test), a command runner in it, and a way to add tagged KUBE- rules. */
function rulesNamespace(t: TestContext, ns: string) {
  const inNs = (cmd: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  const rule = (tool: string, tag: string) =>
    inNs([tool, '-t', 'nat', '-A', 'KUBE-SERVICES', '-m', 'comment', '--comment', tag, '-j', 'RETURN']);
  /** Makes KUBE-SERVICES in `tool`'s backend and tags its rules `tag-0` .. `tag-(n-1)`. */
  const rules = (tool: string, tag: string, n: number) => {
    inNs([tool, '-t', 'nat', '-N', 'KUBE-SERVICES']);
    for (let i = 0; i < n; i++) rule(tool, `${tag}-${i}`);
  };
  return { inNs, rule, rules };
}

test('the iptables-save wrapper follows the backend with more KUBE- rules', (t) => {
  if (!requireRoot(t)) return;
  const { inNs, rule, rules } = rulesNamespace(t, `${runPrefix()}-ipt`);
  rules('iptables-legacy', 'from-legacy', 2);
  rules('iptables-nft', 'from-nft', 1);
  let out = inNs(['sh', WRAPPER, '-t', 'nat']);
  assert.match(out, /from-legacy-1/);
  assert.doesNotMatch(out, /from-nft-0/);

  for (let i = 1; i < 3; i++) rule('iptables-nft', `from-nft-${i}`);
  out = inNs(['sh', WRAPPER, '-t', 'nat']);
  assert.match(out, /from-nft-2/);
  assert.doesNotMatch(out, /from-legacy-0/);
});

test('called as ip6tables-save, the wrapper reads the IPv6 rules by the same choice', (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  const ns = `${prefix}-ip6t`;
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-wrap-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const six = join(dir, 'ip6tables-save');
  symlinkSync(WRAPPER, six);
  const { inNs, rules } = rulesNamespace(t, ns);
  rules('ip6tables-legacy', 'v6-legacy', 2);
  rules('ip6tables-nft', 'v6-nft', 1);
  rules('iptables-nft', 'v4-nft', 3);
  const out = inNs(['sh', six, '-t', 'nat']);
  assert.match(out, /v6-legacy-1/);
  assert.doesNotMatch(out, /v6-nft-0|v4-nft/);
  assert.match(inNs([six, '-t', 'nat']), /v6-legacy-1/, 'through the link, as the image installs it');
});
