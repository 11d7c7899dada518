// Client addresses as numbers (so a million clients cost no strings), and the one
// address ordering every report uses.

const TWO32 = 4294967296;

/**
 * Maps a client IP to a number: an IPv4 address is its own 32-bit value; anything
 * else (IPv6) is interned and numbered from 2^32 up. Accepts "ip", "ip:port" and
 * "[v6]:port".
 */
export class ClientKeys {
  private readonly others: string[] = [];
  private readonly otherIds = new Map<string, number>();

  keyOf(addr: string): number {
    let value = 0;
    let octet = 0;
    let digits = 0;
    let dots = 0;
    const n = addr.length;
    for (let i = 0; i < n; i++) {
      const ch = addr.charCodeAt(i);
      if (ch >= 48 && ch <= 57) {
        octet = octet * 10 + (ch - 48);
        if (++digits > 3 || octet > 255) return this.intern(addr);
      } else if (ch === 46 && digits > 0 && dots < 3) {
        value = value * 256 + octet;
        octet = 0;
        digits = 0;
        dots++;
      } else if (ch === 58 && dots === 3 && digits > 0) {
        break;
      } else {
        return this.intern(addr);
      }
    }
    if (dots !== 3 || digits === 0) return this.intern(addr);
    return value * 256 + octet;
  }

  name(key: number): string {
    if (key >= TWO32) return this.others[key - TWO32]!;
    return `${Math.floor(key / 16777216)}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`;
  }

  private intern(addr: string): number {
    const host = splitHostPort(addr)[0];
    let id = this.otherIds.get(host);
    if (id === undefined) {
      id = this.others.length;
      this.others.push(host);
      this.otherIds.set(host, id);
    }
    return TWO32 + id;
  }
}

/**
 * Orders "ip", "ip:port" and "ip:port/proto": IPv4 numerically, then IPv6 by text;
 * then port, then protocol. Deterministic so that two reports of the same events
 * compare equal.
 */
export function compareAddr(a: string, b: string): number {
  const ka = sortKey(a);
  const kb = sortKey(b);
  for (let i = 0; i < ka.length; i++) {
    const x = ka[i]!;
    const y = kb[i]!;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

const sortKeys = new ClientKeys();

function sortKey(addr: string): [number, number, string, number, string] {
  const slash = addr.lastIndexOf('/');
  const proto = slash < 0 ? '' : addr.slice(slash + 1);
  const hostPort = slash < 0 ? addr : addr.slice(0, slash);
  const [host, portText] = splitHostPort(hostPort);
  const port = portText === '' ? -1 : Number(portText);
  const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(host);
  return v4 ? [0, sortKeys.keyOf(host), '', port, proto] : [1, 0, host, port, proto];
}

/** "ip:port", "[v6]:port", "ip" or a bare IPv6 address, to [host, port text]. */
function splitHostPort(addr: string): [string, string] {
  if (addr.startsWith('[')) {
    const end = addr.indexOf(']');
    return [addr.slice(1, end), addr.slice(end + 2)];
  }
  const colon = addr.indexOf(':');
  if (colon < 0 || colon !== addr.lastIndexOf(':')) return [addr, ''];
  return [addr.slice(0, colon), addr.slice(colon + 1)];
}
