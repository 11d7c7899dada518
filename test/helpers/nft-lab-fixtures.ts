// The lab's nftables tables as kube-proxy's own tools print them: the two-node default lab (both shapes) rendered,
// loaded with nft -f into a throwaway namespace and read back with nft -j, as the agent reads a node. One client is
// pinned in one affinity set, so the dumps carry set elements too. test/fixtures/nft/ holds one such run (see
// test/system/nft-fixtures.test.ts).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addressing, defaultConfig, familyView, nodeName } from '../../src/lab/config.js';
import { renderNft } from '../../src/kube-proxy/nft-render.js';

/** The fixtures' names: lab-<version>-<node>.json. */
export const nftLabFixtures = ['1.35', '1.36'].flatMap((v) => [0, 1].map((k) => `lab-${v}-${nodeName(k)}.json`));

/** Writes the fixtures into `dir`, using a namespace `${prefix}-nftfix` that is removed before returning. */
export function makeNftLabFixtures(dir: string, prefix: string): void {
  const ns = `${prefix}-nftfix`;
  const inNs = (cmd: string, args: string[], input?: string) =>
    execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', input });
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    for (const kubeVersion of ['1.35', '1.36'] as const) {
      const config = familyView(defaultConfig({ nodes: 2, proxyMode: 'nftables', kubeVersion }), 'IPv4');
      for (const k of [0, 1]) {
        // As the lab loads them: NodePorts at the node's address (nodeport-ips).
        const text = renderNft(config, nodeName(k), { nodePortIPs: [addressing.nodeIP(k)] }).text;
        inNs('nft', ['-f', '-'], text);
        const set = /add set ip kube-proxy (affinity-\S+)/.exec(text)![1]!;
        inNs('nft', ['add', 'element', 'ip', 'kube-proxy', set, '{ 10.0.1.2 }']);
        writeFileSync(
          join(dir, `lab-${kubeVersion}-${nodeName(k)}.json`),
          inNs('nft', ['-j', 'list', 'table', 'ip', 'kube-proxy']),
        );
        inNs('nft', ['delete', 'table', 'ip', 'kube-proxy']);
      }
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}
