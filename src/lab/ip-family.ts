// IP families in the lab: which family an address is, the IPv6 twin of each lab IPv4 address (the dual-stack plan),
// and "ip:port" text with IPv6 bracketed, the one form the backends' logs, the clients' results and reports print.
// The family helpers live in core (kube-proxy's renderers and the agent use them too).
export { familyOf, joinHostPort, type IpFamily } from '../core/ip.js';

/** The inverse of joinHostPort; undefined when `text` is neither form. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m || Number(m[3]) > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/**
 * The lab's IPv6 address beside IPv4 10.A.B.C: fd00:A:B::C, the decimal numbers written as the groups' text (so
 * 10.96.0.10 is fd00:96::10, easy to read side by side). Printed as the kernel prints it (RFC 5952: the longest run
 * of two or more zero groups compressed), so the text matches what sockets and tools report.
 */
export function v6Twin(v4: string): string {
  const m = /^10\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  if (!m) throw new RangeError(`v6Twin expects a lab address 10.A.B.C; got '${v4}'`);
  return compressV6(['fd00', m[1]!, m[2]!, '0', '0', '0', '0', m[3]!]);
}

/** The /64 of v6Twin(ip): the twin of a /24 leaf subnet. */
export function v6TwinPrefix(v4: string): string {
  const [a, b] = v4.split('.').slice(1);
  return `${compressV6(['fd00', a!, b!, '0', '0', '0', '0', '0'])}/64`;
}

function compressV6(groups: string[]): string {
  let best = { at: -1, len: 1 };
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  const head = groups.slice(0, best.at).join(':');
  const tail = groups.slice(best.at + best.len).join(':');
  return `${head}::${tail}`;
}
