// The filter table of kube-proxy's iptables mode: the Services it refuses. Written from the facts of kubernetes
// pkg/proxy/iptables/proxier.go as its tests (proxier_test.go, TestOverallIPTablesRules, TestLoadBalancer) expect
// them: a Service without endpoints is rejected at its cluster IP (`KUBE-SERVICES`, "ns/name:port has no endpoints"
// -j REJECT) and at its external IPs, load-balancer IPs and NodePort (`KUBE-EXTERNAL-SERVICES`, the NodePort with
// `-m addrtype --dst-type LOCAL`); a Local Service with no endpoint on this node has those dropped ("has no local
// endpoints" -j DROP), and so has its cluster IP under internalTrafficPolicy Local; load-balancer IPs with source ranges get `KUBE-PROXY-FIREWALL` DROPs ("traffic not accepted by
// KUBE-FW-*": what KUBE-FW-* admitted was DNATed away from the address); plus `KUBE-FORWARD`, `KUBE-FIREWALL`,
// `KUBE-NODEPORTS` and the built-in chains' jumps on new connections.
// Left out: `-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP`, which kube-proxy leaves out where
// net.netfilter.nf_conntrack_tcp_be_liberal is set: the lab's dual-homed clients route asymmetrically through a node,
// whose conntrack then sees one direction only and calls the handshake's ACK invalid (NodePort requests hung); with it
// goes its nfacct twin (`-m nfacct --nfacct-name ct_state_invalid_dropped_pkts`). The other counter kube-proxy writes,
// for localhost NodePorts, is in the nat table (iptables-render.ts).
import { externalAddresses, servicePortName, usesFirewall, type ProxyConfig, type KubeServicePort } from './model.js';
import { serviceChain } from './names.js';
import { usableOn, type UsableEndpoints } from './usable-endpoints.js';

const MASQ_MARK = '0x4000';
/** The older shape's KUBE-MARK-DROP mark. */
const DROP_MARK = '0x8000';
const CHAINS = [
  'KUBE-NODEPORTS',
  'KUBE-SERVICES',
  'KUBE-EXTERNAL-SERVICES',
  'KUBE-FIREWALL',
  'KUBE-FORWARD',
  'KUBE-PROXY-FIREWALL',
];

/** The built-in chains' jumps, written once (--noflush leaves built-in chains alone). */
const JUMPS = [
  '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
  '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  '-A INPUT -j KUBE-FIREWALL',
  '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
  '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-A OUTPUT -j KUBE-FIREWALL',
];

/** What one Service adds to the filter table on a node that uses `u` of its endpoints. */
function refusals(s: KubeServicePort, u: UsableEndpoints, host: number, legacy: boolean): string[] {
  const p = s.protocol;
  const name = servicePortName(s);
  const out: string[] = [];
  const rule = (chain: string, why: string, match: string, verdict: string) =>
    out.push(`-A ${chain} ${match} -p ${p} -m comment --comment "${name} ${why}" -m ${p} ${verdict}`);
  // REJECT without usable endpoints anywhere, DROP without local ones under a Local policy (for external destinations,
  // after the external chain's short-circuits for pods and the node).
  const [why, verdict] = u.any ? ['has no local endpoints', '-j DROP'] : ['has no endpoints', '-j REJECT'];
  if (!u.internal) rule('KUBE-SERVICES', why, `-d ${s.clusterIP}/${host}`, `--dport ${s.port} ${verdict}`);
  if (!u.external) {
    for (const ip of externalAddresses(s))
      rule('KUBE-EXTERNAL-SERVICES', why, `-d ${ip}/${host}`, `--dport ${s.port} ${verdict}`);
    if (s.nodePort !== undefined)
      rule('KUBE-EXTERNAL-SERVICES', why, '-m addrtype --dst-type LOCAL', `--dport ${s.nodePort} ${verdict}`);
  }
  // Current shape: what KUBE-FW-* did not send on to KUBE-EXT-* is still addressed to the load-balancer IP here.
  if (usesFirewall(s) && !legacy)
    for (const ip of s.loadBalancerIPs!)
      rule(
        'KUBE-PROXY-FIREWALL',
        `traffic not accepted by ${serviceChain('KUBE-FW', name, p)}`,
        `-d ${ip}/${host}`,
        `--dport ${s.port} -j DROP`,
      );
  return out;
}

/** The `*filter` section, for the same iptables-restore --noflush transaction as the nat table's. */
export function renderFilter(config: ProxyConfig, node: string, opts: { jumps: boolean; v6: boolean }): string[] {
  const loopback = opts.v6 ? '::1/128' : '127.0.0.0/8';
  const legacy = config.shape === 'legacy';
  return [
    '*filter',
    ...CHAINS.map((c) => `:${c} - [0:0]`),
    ...(opts.jumps ? JUMPS : []),
    ...config.services.flatMap((s) => refusals(s, usableOn(config, s, node), opts.v6 ? 128 : 32, legacy)),
    // The older shape's load-balancer firewall: KUBE-FW-* marks what it does not admit.
    ...(legacy
      ? [
          `-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark ${DROP_MARK}/${DROP_MARK} -j DROP`,
        ]
      : []),
    ...(opts.v6
      ? []
      : [
          `-A KUBE-FIREWALL -d ${loopback} ! -s ${loopback} -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
        ]),
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${MASQ_MARK}/${MASQ_MARK} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    'COMMIT',
  ];
}
