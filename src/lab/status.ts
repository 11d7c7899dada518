// What `lab status` shows: namespaces present, Services and endpoints, backend processes alive, and how many
// connections each KUBE-SEP DNAT rule has taken (the packet counter of its DNAT rule counts NEW connections only, since
// nat rules see the first packet of a connection).
import { printableLines } from '../core/text.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from '../core/event.js';
import { run } from './exec.js';
import { isOurs } from './processes.js';
import { endpointChains, endpointText, sortedEndpoints } from '../kube-proxy/iptables-render.js';
import { joinHostPort } from './ip-family.js';
import { nftEndpointChains } from '../kube-proxy/nft-render.js';
import { describeMode, labFamilies, nodeName, serviceAddresses, type LabEndpoint } from './config.js';
import type { Lab } from './lab.js';

interface SepStatus {
  node: string;
  chain: string;
  endpoint: string;
  pod: string;
  connections: number | null;
}

export interface LabStatus {
  /** "iptables mode", or "nftables mode, kube-proxy 1.36 shape". */
  mode: string;
  /** The lab's families: IPv4, or IPv4 and IPv6. */
  ipFamilies: string[];
  namespaces: { name: string; present: boolean }[];
  backends: { name: string; pid: number | null; alive: boolean }[];
  services: {
    name: string;
    address: string;
    affinity: string;
    nodePort?: number;
    /** "10.5.0.22 from 10.0.1.0/24, 10.2.0.0/16": its load-balancer IPs and the sources they admit. */
    loadBalancer?: string;
    externalIPs?: string;
    endpoints: SepStatus[];
  }[];
}

/** DNAT rule packet counters by chain, from `iptables-save -c` (and `ip6tables-save -c` in a dual-stack lab). */
async function dnatCounters(netns: string, dualStack: boolean): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const save of dualStack ? ['iptables-save', 'ip6tables-save'] : ['iptables-save']) {
    const out = await run('ip', ['netns', 'exec', netns, save, '-c', '-t', 'nat']);
    for (const m of out.matchAll(/^\[(\d+):\d+\] -A (KUBE-SEP-\S+) .*-j DNAT /gm)) counts.set(m[2]!, Number(m[1]));
  }
  return counts;
}

/**
 * Each endpoint's chain in the node's mode. nftables mode keeps no counters (kube-proxy writes none), and 1.36 has
 * endpoint chains for affinity Services only: the others show "-".
 */
function chainsOf(lab: Lab, s: Lab['services'][number]): [string, LabEndpoint][] {
  if (lab.config.proxyMode !== 'nftables') return [...endpointChains(s)];
  const byEndpoint = new Map([...nftEndpointChains(lab.config, s)].map(([c, e]) => [endpointText(e), c]));
  return sortedEndpoints(s.endpoints).map((e) => [byEndpoint.get(endpointText(e)) ?? '-', e]);
}

export async function labStatus(lab: Lab): Promise<LabStatus> {
  const listed = new Set((await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]));
  const all = [...lab.nodes, ...lab.clients.map((c) => c.netns), ...lab.backends.map((b) => b.netns)];
  const nft = lab.config.proxyMode === 'nftables';
  const mode = describeMode(lab.config);
  const counters = await Promise.all(
    lab.nodes.map((n) =>
      listed.has(n) && !nft ? dnatCounters(n, labFamilies(lab.config).includes('IPv6')) : Promise.resolve(new Map()),
    ),
  );
  return {
    mode,
    ipFamilies: labFamilies(lab.config),
    namespaces: all.map((name) => ({ name, present: listed.has(name) })),
    backends: lab.backends.map((b) => ({
      name: b.name,
      pid: b.pid,
      alive: b.pid !== null && isOurs(b.pid, lab.prefix),
    })),
    services: lab.services.map((s) => ({
      name: s.serviceName,
      address: serviceAddresses(s)
        .map((a) => `${joinHostPort(a.ip, s.port)}/${s.protocol}`)
        .join(' '),
      affinity:
        s.sessionAffinity === 'ClientIP' ? `ClientIP ${s.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS}s` : 'None',
      nodePort: s.nodePort,
      ...(s.loadBalancerIPs?.length
        ? {
            loadBalancer: `${s.loadBalancerIPs.join(' ')}${s.loadBalancerSourceRanges?.length ? ` from ${s.loadBalancerSourceRanges.join(', ')}` : ''}`,
          }
        : {}),
      ...(s.externalIPs?.length ? { externalIPs: s.externalIPs.join(' ') } : {}),
      endpoints: lab.nodes.flatMap((_, k) =>
        chainsOf(lab, s).map(([chain, e]) => ({
          node: nodeName(k),
          chain,
          endpoint: endpointText(e),
          pod: e.pod,
          connections: counters[k]!.get(chain) ?? null,
        })),
      ),
    })),
  };
}

export function formatStatus(lab: Lab, st: LabStatus): string {
  const out: string[] = [
    `lab ${lab.prefix}  (${st.mode}; ${st.ipFamilies.join(' and ')}; state ${lab.stateDir})`,
    '',
    'namespaces:',
  ];
  for (const n of st.namespaces) out.push(`  ${n.name.padEnd(24)} ${n.present ? 'present' : 'MISSING'}`);
  out.push('', 'backends:');
  for (const b of st.backends)
    out.push(`  ${b.name.padEnd(6)} pid ${String(b.pid ?? '-').padEnd(8)} ${b.alive ? 'alive' : 'NOT RUNNING'}`);
  for (const s of st.services) {
    out.push('', `${s.name}  ${s.address}  affinity ${s.affinity}${s.nodePort ? `  nodePort ${s.nodePort}` : ''}`);
    if (s.loadBalancer) out.push(`  load balancer ${s.loadBalancer}`);
    if (s.externalIPs) out.push(`  external IPs ${s.externalIPs}`);
    if (s.endpoints.length === 0) out.push('  (no endpoints)');
    for (const e of s.endpoints) {
      out.push(
        `  ${e.node.padEnd(6)} ${e.chain}  ${e.endpoint.padEnd(e.endpoint.startsWith('[') ? 22 : 16)} ${e.pod.padEnd(6)} ${e.connections !== null ? `${e.connections} conn` : e.chain === '-' || st.mode.startsWith('nftables') ? '' : 'no rule'}`,
      );
    }
  }
  // Names come from the lab's state file, which anyone who can write it may have edited.
  return printableLines(out.join('\n'));
}
