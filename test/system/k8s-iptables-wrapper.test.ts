// deploy/iptables-save (the image's wrapper) reads kube-proxy's rules from whichever
// iptables backend holds them. Checked in a throwaway network namespace holding rules
// in both backends, each tagged so the output says which one was read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requireRoot, runPrefix } from '../helpers/env.js';

const WRAPPER = fileURLToPath(new URL('../../../deploy/iptables-save', import.meta.url));

test('the iptables-save wrapper follows the backend with more KUBE- rules', (t) => {
  if (!requireRoot(t)) return;
  const ns = `${runPrefix()}-ipt`;
  const inNs = (cmd: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  const rules = (tool: string, tag: string, n: number) => {
    inNs([tool, '-t', 'nat', '-N', 'KUBE-SERVICES']);
    for (let i = 0; i < n; i++)
      inNs([tool, '-t', 'nat', '-A', 'KUBE-SERVICES', '-m', 'comment', '--comment', `${tag}-${i}`, '-j', 'RETURN']);
  };
  rules('iptables-legacy', 'from-legacy', 2);
  rules('iptables-nft', 'from-nft', 1);
  let out = inNs(['sh', WRAPPER, '-t', 'nat']);
  assert.match(out, /from-legacy-1/);
  assert.doesNotMatch(out, /from-nft-0/);

  for (let i = 1; i < 3; i++)
    inNs([
      'iptables-nft',
      '-t',
      'nat',
      '-A',
      'KUBE-SERVICES',
      '-m',
      'comment',
      '--comment',
      `from-nft-${i}`,
      '-j',
      'RETURN',
    ]);
  out = inNs(['sh', WRAPPER, '-t', 'nat']);
  assert.match(out, /from-nft-2/);
  assert.doesNotMatch(out, /from-legacy-0/);
});
