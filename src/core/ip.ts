// IPv6 addresses in one spelling: tools print them differently (xt_recent writes every group in full, people write
// upper case or leading zeros), while flows carry RFC 5952's form. Comparing addresses needs them alike.
import { isIPv4, isIPv6 } from 'node:net';

/** An IPv6 address (without brackets) in RFC 5952 form; anything else unchanged. */
export function canonicalIp(ip: string): string {
  if (!isIPv6(ip)) return ip;
  // A zone ("fe80::1%eth0") is no part of the address's spelling, and URL refuses it: kept as written.
  const zone = ip.indexOf('%');
  if (zone >= 0) return `${canonicalIp(ip.slice(0, zone))}${ip.slice(zone)}`;
  // WHATWG URL serialises IPv6 hosts by RFC 5952's rules (lower case, no leading zeros, longest zero run as "::"),
  // except IPv4-mapped ones, which it writes in hex ("::ffff:a00:1") where RFC 5952 (section 5) and the probe's
  // decoder keep the IPv4 address readable.
  const host = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [hi, lo] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)];
  return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** "[v6]:port", "[v6]:port/proto", "[v6]" or a bare IPv6 address with the address in RFC 5952 form; IPv4 unchanged. */
export function canonicalAddress(addr: string): string {
  if (!addr.startsWith('[')) return canonicalIp(addr);
  const end = addr.indexOf(']');
  return end < 0 ? addr : `[${canonicalIp(addr.slice(1, end))}]${addr.slice(end + 1)}`;
}

const ipFamilyNames = ['IPv4', 'IPv6'] as const;
export type IpFamily = (typeof ipFamilyNames)[number];

export function familyOf(ip: string): IpFamily | null {
  return isIPv4(ip) ? 'IPv4' : isIPv6(ip) ? 'IPv6' : null;
}

/** "10.0.1.2:80", "[fd00:0:1::2]:80". */
export function joinHostPort(ip: string, port: number | string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
