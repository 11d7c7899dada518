// IPv6 addresses in one spelling: tools print them differently (xt_recent writes every group in full, people write
// upper case or leading zeros), while flows carry RFC 5952's form. Comparing addresses needs them alike.
import { isIPv6 } from 'node:net';

/** An IPv6 address (without brackets) in RFC 5952 form; anything else unchanged. */
export function canonicalIp(ip: string): string {
  if (!isIPv6(ip)) return ip;
  // WHATWG URL serialises IPv6 hosts by RFC 5952's rules (lower case, no leading zeros, longest zero run as "::").
  const host = new URL(`http://[${ip}]/`).hostname;
  return host.slice(1, -1);
}

/** "[v6]:port" or "ip:port" to the address alone; a bare address unchanged. Brackets never stay. */
export function hostOf(addr: string): string {
  if (addr.startsWith('[')) {
    const end = addr.indexOf(']');
    return end < 0 ? addr : addr.slice(1, end);
  }
  const colon = addr.indexOf(':');
  return colon >= 0 && colon === addr.lastIndexOf(':') ? addr.slice(0, colon) : addr;
}

/** 6 for an IPv6 address or "[v6]:port", else 4. */
export function familyOf(addr: string): 4 | 6 {
  return addr.startsWith('[') || isIPv6(addr) ? 6 : 4;
}
