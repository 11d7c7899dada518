// kube-proxy's IPVS mode (deprecated since 1.35, KEP-5495), recognised so that it is named rather than read as a node
// without Services: the `kube-ipvs0` dummy interface holding every Service address, or its nat rules matching the
// KUBE-CLUSTER-IP ipset.

export const IPVS_UNSUPPORTED =
  'kube-proxy runs in IPVS mode here, which stickyscope does not support: IPVS (deprecated since Kubernetes 1.35, ' +
  'KEP-5495) picks backends inside the ip_vs module, not with the netfilter DNAT rules the agent reads, so flows ' +
  'cannot be named and affinity cannot be judged; run kube-proxy in iptables or nftables mode';

/** What in the nat rules (iptables-save -t nat) shows IPVS mode, or null. */
export function ipvsInRules(natText: string): string | null {
  return /--match-set KUBE-CLUSTER-IP /.test(natText) ? 'the nat rules match the KUBE-CLUSTER-IP ipset' : null;
}

/** `ip -d link show kube-ipvs0` output: the (dummy) interface IPVS mode binds Service addresses to; only kube-proxy
 * uses that name. */
export function ipvsInLink(linkText: string): string | null {
  return /^\d+: kube-ipvs0[:@]/m.test(linkText) ? 'the kube-ipvs0 interface exists' : null;
}
