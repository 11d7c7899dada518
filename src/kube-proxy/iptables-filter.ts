// The filter table of kube-proxy's iptables mode: the Services it refuses. Written from the facts of kubernetes
// pkg/proxy/iptables/proxier.go as its tests (proxier_test.go, TestOverallIPTablesRules) expect them: a Service
// without endpoints is rejected at its cluster IP (`KUBE-SERVICES`, "ns/name:port has no endpoints" -j REJECT) and at
// its NodePort (`KUBE-EXTERNAL-SERVICES`, `-m addrtype --dst-type LOCAL`); a Local Service with no endpoint on this node
// has its NodePort dropped ("has no local endpoints" -j DROP); plus `KUBE-FORWARD`, `KUBE-FIREWALL` and the
// (here empty) `KUBE-PROXY-FIREWALL` and `KUBE-NODEPORTS` chains, and the built-in chains' jumps on new connections.
// Left out: the `-m nfacct` counters (they need the nfacct objects and xt_nfacct; the agent does not read them), and
// `-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP`, which kube-proxy leaves out where
// net.netfilter.nf_conntrack_tcp_be_liberal is set: the lab's dual-homed clients route asymmetrically through a node,
// whose conntrack then sees one direction only and calls the handshake's ACK invalid (NodePort requests hung).
import { servicePortName, type ProxyConfig, type KubeServicePort } from './model.js';

const MASQ_MARK = '0x4000';
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

/** What one Service adds to the filter table on `node`. */
function refusals(s: KubeServicePort, node: string, host: number): string[] {
  const p = s.protocol;
  const out: string[] = [];
  const rule = (chain: string, why: string, match: string, verdict: string) =>
    out.push(`-A ${chain} ${match} -p ${p} -m comment --comment "${servicePortName(s)} ${why}" -m ${p} ${verdict}`);
  const nodePort = (why: string, verdict: string) =>
    rule('KUBE-EXTERNAL-SERVICES', why, '-m addrtype --dst-type LOCAL', `--dport ${s.nodePort} ${verdict}`);
  if (s.endpoints.length === 0) {
    rule('KUBE-SERVICES', 'has no endpoints', `-d ${s.clusterIP}/${host}`, `--dport ${s.port} -j REJECT`);
    if (s.nodePort !== undefined) nodePort('has no endpoints', '-j REJECT');
  } else if (
    s.nodePort !== undefined &&
    s.externalTrafficPolicy === 'Local' &&
    !s.endpoints.some((e) => e.node === node)
  ) {
    nodePort('has no local endpoints', '-j DROP');
  }
  return out;
}

/** The `*filter` section, for the same iptables-restore --noflush transaction as the nat table's. */
export function renderFilter(config: ProxyConfig, node: string, opts: { jumps: boolean; v6: boolean }): string[] {
  const loopback = opts.v6 ? '::1/128' : '127.0.0.0/8';
  return [
    '*filter',
    ...CHAINS.map((c) => `:${c} - [0:0]`),
    ...(opts.jumps ? JUMPS : []),
    ...config.services.flatMap((s) => refusals(s, node, opts.v6 ? 128 : 32)),
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
