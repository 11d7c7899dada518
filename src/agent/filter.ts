// A subscriber's filter, applied on the agent so filtered-out events never cross the
// network. Only flows and evictions are filtered: lost counts, counters, catalogs and
// node changes concern every subscriber.
import { hostOf, type StickyEvent } from '../core/event.js';
import type { EventFilter } from '../protocol/wire.js';

export type EventPredicate = (e: StickyEvent) => boolean;

const all: EventPredicate = () => true;

/** Whether a flow's service is one the filter names: by address, address/proto, or name. */
function serviceMatches(wanted: string[], service: string, proto: string, name: string | undefined): boolean {
  for (const w of wanted) {
    if (w === service || w === `${service}/${proto}`) return true;
    if (name !== undefined && (w === name || name.startsWith(`${w}:`))) return true;
  }
  return false;
}

export function compileFilter(f: EventFilter): EventPredicate {
  const services = f.services ?? [];
  const clients = new Set(f.clients ?? []);
  const protos = new Set(f.protos ?? []);
  if (services.length === 0 && clients.size === 0 && protos.size === 0) return all;
  return (e) => {
    switch (e.type) {
      case 'dnat':
      case 'snat':
      case 'insert':
        if (protos.size > 0 && !protos.has(e.proto)) return false;
        if (clients.size > 0 && !clients.has(e.client) && !clients.has(hostOf(e.client))) return false;
        return services.length === 0 || serviceMatches(services, e.service, e.proto, e.serviceName);
      case 'evicted':
        return clients.size === 0 || clients.has(e.client);
      default:
        return true;
    }
  };
}
