// IPv6 kube-proxy dumps made by the real tools: the lab's IPv4 renders turned IPv6 (addresses, `ip6` matches,
// `[v6]:port` DNATs), loaded into a throwaway namespace with ip6tables-restore / nft -f and read back with
// ip6tables-save, nft -j and /proc/net/xt_recent. test/fixtures/v6/ holds one such run (see v6-fixtures.test.ts).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalIp } from '../../src/core/ip.js';
import { defaultConfig, type KubeVersion, type LabConfig } from '../../src/lab/config.js';
import { nftNameBase } from '../../src/kube-proxy/names.js';
import { renderNft } from '../../src/kube-proxy/nft-render.js';
import { renderNat } from '../../src/kube-proxy/iptables-render.js';

/** The IPv6 twin of the lab's one-node default config: same names and ports, fd00:: addresses. */
function v6Config(kubeVersion: KubeVersion = '1.35'): LabConfig {
  return toV6(defaultConfig({ nodes: 1, kubeVersion, proxyMode: 'nftables' }));
}

/** `c` with every address turned into its IPv6 twin (v6Of). */
export function toV6(c: LabConfig): LabConfig {
  return {
    ...c,
    clusterCIDR: 'fd00::/47',
    services: c.services.map((s) => ({
      ...s,
      clusterIP: v6Of(s.clusterIP),
      endpoints: s.endpoints.map((e) => ({ ...e, ip: v6Of(e.ip) })),
      ...(s.externalIPs ? { externalIPs: s.externalIPs.map(v6Of) } : {}),
      ...(s.loadBalancerIPs ? { loadBalancerIPs: s.loadBalancerIPs.map(v6Of) } : {}),
      ...(s.loadBalancerSourceRanges ? { loadBalancerSourceRanges: s.loadBalancerSourceRanges.map(v6Range) } : {}),
    })),
  };
}

/** 10.96.0.11 -> fd00:96::11, 10.1.2.2 -> fd00:1:2::2, 10.5.0.22 -> fd00:5::22 (RFC 5952, as the readers write it). */
export function v6Of(v4: string): string {
  const [a, b, c, d] = v4.split('.');
  return canonicalIp(a === '10' && b === '96' ? `fd00:96::${d}` : `fd00:${b}:${c}::${d}`);
}

/** 10.0.1.0/24 -> fd00:0:1::/64, 10.2.0.0/16 -> fd00:2::/32: the prefix holding the twins of the range's addresses. */
function v6Range(cidr: string): string {
  const [, b, c] = cidr.split('/')[0]!.split('.');
  return Number(cidr.split('/')[1]) <= 16 ? `fd00:${b}::/32` : `fd00:${b}:${c}::/64`;
}

/** ip6tables-restore input of kube-proxy's shape for `config`. */
export function ip6tablesText(config: LabConfig): string {
  return renderNat(config, 'node', { jumps: true, family: 'IPv6' })
    .text.replace(/(-[sd] [0-9a-f:]+)\/32\b/g, '$1/128')
    .replace(/--to-destination ([0-9a-f:]+):(\d+)/g, '--to-destination [$1]:$2');
}

/**
 * nft -f input of kube-proxy's `ip6 kube-proxy` table for `config`. An nftables name takes no colon: an endpoint's
 * address is written with dots in its chain and set names ("__fd00.1.1..2/8080"), its hash taken over that.
 */
export function nft6Text(config: LabConfig): string {
  return renderNft(config, 'node')
    .text.replace(
      /\b(endpoint|affinity)-[A-Z2-7]{8}-(\S+?__)([0-9a-f:]+)(\/\d+)/g,
      (_, kind: string, head: string, ip: string, port: string) => {
        return `${kind}-${nftNameBase(`${head}${ip.replaceAll(':', '.')}${port}`)}`;
      },
    )
    .replace(/\bip kube-proxy\b/g, 'ip6 kube-proxy')
    .replace(/\bip ([sd]addr)\b/g, 'ip6 $1')
    .replace(/\bipv4_addr\b/g, 'ipv6_addr')
    .replace(/127\.0\.0\.0\/8/g, '::1')
    .replace(/dnat ip addr/g, 'dnat ip6 addr')
    .replace(/dnat to ([0-9a-f:]+):(\d+)/g, 'dnat to [$1]:$2');
}

/** Clients put in the fixtures' affinity state (an xt_recent list, an nftables set). */
export const pinnedClients = ['fd00:0:1::2', 'fd00:0:2::2'];

/** Writes the fixtures into `dir`, using a namespace `${prefix}-v6fix` that is removed before returning. */
export function makeV6Fixtures(dir: string, prefix: string): void {
  const ns = `${prefix}-v6fix`;
  const inNs = (cmd: string, args: string[], input?: string) =>
    execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', input });
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    inNs('ip6tables-restore', [], ip6tablesText(v6Config()));
    // As the agent reads a node: the nat table, then the filter table with kube-proxy's refusals.
    writeFileSync(
      join(dir, 'ip6tables-save.txt'),
      inNs('ip6tables-save', ['-t', 'nat']) + inNs('ip6tables-save', ['-t', 'filter']),
    );
    // xt_recent takes "+addr" written to a list's file: the list then reads as the kernel keeps it.
    const list = /--name (KUBE-SEP-\w+) --set/.exec(ip6tablesText(v6Config()))![1]!;
    for (const c of pinnedClients) inNs('sh', ['-c', `echo +${c} > /proc/net/xt_recent/${list}`]);
    writeFileSync(join(dir, `xt_recent-${list}.txt`), inNs('cat', [`/proc/net/xt_recent/${list}`]));
    for (const version of ['1.35', '1.36'] as const) {
      const text = nft6Text(v6Config(version));
      inNs('nft', ['-f', '-'], text);
      writeFileSync(join(dir, `nft-${version}.json`), inNs('nft', ['-j', 'list', 'table', 'ip6', 'kube-proxy']));
      const set = /add set ip6 kube-proxy (affinity-\S+)/.exec(text)![1]!;
      inNs('nft', ['add', 'element', 'ip6', 'kube-proxy', set, `{ ${pinnedClients.join(', ')} }`]);
      writeFileSync(
        join(dir, `nft-${version}-sets.json`),
        inNs('nft', ['-j', 'list', 'sets', 'table', 'ip6', 'kube-proxy']),
      );
      inNs('nft', ['delete', 'table', 'ip6', 'kube-proxy']);
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}
