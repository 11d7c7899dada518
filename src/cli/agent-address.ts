// --agent HOST:PORT, one parser for every command that connects to agents (tui, record, report, serve).
import { isIPv4, isIPv6 } from 'node:net';
import { UsageError } from '../core/errors.js';

/** A DNS name as RFC 1123 allows it: dot-separated labels of letters, digits and inner hyphens. */
const HOSTNAME =
  /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** Why `text` is not an agent's address, or null when it is one. */
function fault(text: string): string | null {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return 'no :PORT';
  const host = text.slice(0, colon);
  const port = text.slice(colon + 1);
  if (host === '') return 'no host before :PORT';
  if (host.startsWith('[') !== host.endsWith(']')) return `unbalanced brackets in '${host}'`;
  if (host.startsWith('[')) {
    if (!isIPv6(host.slice(1, -1))) return `'${host}' is not a bracketed IPv6 address`;
  } else if (host.includes(':')) return `an IPv6 address goes in brackets: [${host}]:${port}`;
  else if (!isIPv4(host) && !HOSTNAME.test(host)) return `'${host}' is not an IPv4 address or host name`;
  if (!/^\d{1,5}$/.test(port)) return `port '${port}' is not a number`;
  const n = Number(port);
  if (n < 1 || n > 65535) return `port ${n} is outside 1-65535`;
  return null;
}

/** Each `--agent` value as given, or a UsageError saying which one is wrong and why. */
export function parseAgentAddresses(list: readonly string[]): string[] {
  for (const a of list) {
    const why = fault(a);
    if (why)
      throw new UsageError(
        `--agent expects HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:7390 or [fd00::1]:7390; got '${a}' (${why})`,
      );
  }
  return [...list];
}
