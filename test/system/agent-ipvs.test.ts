// IPVS mode is named, not read as a node without Services: a node namespace with kube-proxy's kube-ipvs0 interface
// makes the agent's rules reader refuse it with the reason; without it the namespace is a node with no Services.
// (kube-proxy makes kube-ipvs0 a dummy; a veth stands in where the kernel has no dummy driver.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { requireRoot } from '../helpers/env.js';
import { runPrefix } from '../../src/core/run-prefix.js';
import { nodeRules } from '../../src/agent/rules-watch.js';

test('a node with kube-ipvs0 is refused as IPVS mode; without it, no Services and no error', async (t) => {
  if (!requireRoot(t)) return;
  const ns = `${runPrefix()}-ipvs`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  const read = nodeRules(`/run/netns/${ns}`);
  const plain = await read();
  assert.equal(
    typeof plain === 'string' ? 'iptables' : plain.mode,
    'iptables',
    'nothing there: an empty iptables node',
  );
  execFileSync('ip', [
    'netns',
    'exec',
    ns,
    'ip',
    'link',
    'add',
    'kube-ipvs0',
    'type',
    'veth',
    'peer',
    'name',
    'ipvs-peer',
  ]);
  await assert.rejects(
    read(),
    /IPVS mode here, which stickyscope does not support: .* \(the kube-ipvs0 interface exists\)/,
  );
});
