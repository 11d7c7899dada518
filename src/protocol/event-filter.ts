// A Service/client/protocol filter: checked and applied on the agent so filtered-out events never cross the network,
// and applied the same way to a trace file's events (report FILE --service). Only flows, live connections and evictions are filtered
// (lost counts, counters, sweeps, catalogs and node changes concern every reader); matching costs a few Set lookups per event.
import { isIP } from 'node:net';
import { hostOf, type StickyEvent } from '../core/event.js';
import { InputError } from '../core/errors.js';
import { canonicalAddress } from '../core/ip.js';
import type { EventFilter } from './wire.js';

export type EventPredicate = (e: StickyEvent) => boolean;

/** Entries per filter list at most: a person or a script names a handful of services, not thousands. */
const MAX_FILTER_ENTRIES = 1024;
/** Characters per entry at most: "ns/name:port" is at most 63 + 1 + 63 + 1 + 15. */
const MAX_FILTER_ENTRY_LENGTH = 160;

/** A filter the agent refuses: `field` names the list and entry at fault ("services[3]"). */
export class FilterError extends InputError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const all: EventPredicate = () => true;

/** True for the predicate of an empty filter: its subscriber takes every event. */
export function takesEverything(p: EventPredicate): boolean {
  return p === all;
}
const portRe = /^\d{1,5}$/;
/** Kubernetes namespaces, names and port names are DNS labels; dots and capitals are let through. */
const label = '[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?';
const serviceNameRe = new RegExp(`^${label}/${label}(:${label})?$`);

/** "ip:port" or "[v6]:port" with a port up to 65535. */
function isAddress(s: string): boolean {
  const i = s.lastIndexOf(':');
  if (i < 0) return false;
  const port = s.slice(i + 1);
  if (!portRe.test(port) || Number(port) > 65535) return false;
  const host = s.slice(0, i);
  if (host.startsWith('[')) return host.endsWith(']') && isIP(host.slice(1, -1)) === 6;
  return isIP(host) === 4;
}

function isServiceEntry(s: string): boolean {
  const slash = s.lastIndexOf('/');
  const proto = slash < 0 ? '' : s.slice(slash + 1);
  if (proto === 'tcp' || proto === 'udp' || proto === 'sctp') return isAddress(s.slice(0, slash));
  return isAddress(s) || serviceNameRe.test(s);
}

function isClientEntry(s: string): boolean {
  return isIP(s) !== 0 || isAddress(s) || (s.startsWith('[') && s.endsWith(']') && isIP(s.slice(1, -1)) === 6);
}

function checkList(list: unknown, field: string, shape: string, ok: (s: string) => boolean): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new FilterError(field, `filter field ${field} should be a list; got ${typeof list}`);
  if (list.length > MAX_FILTER_ENTRIES)
    throw new FilterError(
      field,
      `filter field ${field} lists ${list.length} entries; at most ${MAX_FILTER_ENTRIES} are accepted`,
    );
  list.forEach((s, i) => {
    const at = `${field}[${i}]`;
    if (typeof s !== 'string') throw new FilterError(at, `filter field ${at} should be a string; got ${typeof s}`);
    if (s.length > MAX_FILTER_ENTRY_LENGTH)
      throw new FilterError(
        at,
        `filter field ${at} is ${s.length} characters long; at most ${MAX_FILTER_ENTRY_LENGTH} are accepted`,
      );
    if (!ok(s)) throw new FilterError(at, `filter field ${at} should be ${shape}; got '${s}'`);
  });
  return list as string[];
}

/** The filter's lists, checked for size and shape; throws FilterError naming the first entry at fault. */
export function validateFilter(f: EventFilter): Required<EventFilter> {
  return {
    services: checkList(
      f.services,
      'services',
      '"ip:port", "ip:port/proto", "ns/name" or "ns/name:port"',
      isServiceEntry,
    ),
    clients: checkList(f.clients, 'clients', 'an IP, "[v6]", "ip:port" or "[v6]:port"', isClientEntry),
    protos: checkList(f.protos, 'protos', 'tcp, udp or sctp', (p) => p === 'tcp' || p === 'udp' || p === 'sctp') as (
      | 'tcp'
      | 'udp'
      | 'sctp'
    )[],
  };
}

/** Builds the predicate of a filter already checked by validateFilter. */
export function compileFilter(f: EventFilter): EventPredicate {
  // Flows spell IPv6 addresses as RFC 5952 does: "[FD00:0::1]:80" asks for "[fd00::1]:80".
  const services = (f.services ?? []).map(canonicalAddress);
  const clients = new Set((f.clients ?? []).map((c) => canonicalAddress(c.endsWith(']') ? c.slice(1, -1) : c)));
  const protos = new Set(f.protos ?? []);
  if (services.length === 0 && clients.size === 0 && protos.size === 0) return all;
  // "ip:port" -> the protocols it is wanted for (null: any); names, with or without a port name.
  const addresses = new Map<string, Set<string> | null>();
  const names = new Set<string>();
  for (const w of services) {
    const slash = w.lastIndexOf('/');
    const proto = slash < 0 ? '' : w.slice(slash + 1);
    if (proto === 'tcp' || proto === 'udp' || proto === 'sctp') {
      const addr = w.slice(0, slash);
      const had = addresses.get(addr);
      if (had === undefined) addresses.set(addr, new Set([proto]));
      else had?.add(proto);
    } else if (isAddress(w)) addresses.set(w, null);
    else names.add(w);
  }
  const serviceMatches = (service: string, proto: string, name: string | undefined): boolean => {
    const byAddr = addresses.get(service);
    if (byAddr !== undefined && (byAddr === null || byAddr.has(proto))) return true;
    if (name === undefined || names.size === 0) return false;
    if (names.has(name)) return true;
    // "ns/name" names every port of the Service "ns/name:port".
    const colon = name.lastIndexOf(':');
    return colon > 0 && names.has(name.slice(0, colon));
  };
  return (e) => {
    switch (e.type) {
      case 'dnat':
      case 'snat':
      case 'insert':
      case 'open':
      case 'close':
      case 'traffic':
        if (protos.size > 0 && !protos.has(e.proto)) return false;
        if (clients.size > 0 && !clients.has(e.client) && !clients.has(hostOf(e.client))) return false;
        return services.length === 0 || serviceMatches(e.service, e.proto, e.serviceName);
      case 'evicted':
        return clients.size === 0 || clients.has(e.client);
      default:
        return true;
    }
  };
}
