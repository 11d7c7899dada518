// What --service asks for, seen from the client: the agents drop other Services' flows, but their catalogs still list
// every Service. scopeCatalogs trims those catalogs to the Services asked for (so a report or recording holds only
// their rows) and says, once per name, when a name matches no Service of the catalogs that arrived, with near matches.
import { CLUSTER_NODE, type ServiceInfo, type StickyEvent } from './event.js';
import { UsageError } from './errors.js';
import { canonicalAddress } from './ip.js';
import { editDistance } from './near-words.js';

/** True when entry (as the agents' filter reads it: "ip:port/proto" or "ns/name[:port]") names this Service. */
export function entryMatches(entry: string, s: ServiceInfo): boolean {
  if (entry.includes(':') && /\/(tcp|udp|sctp)$/.test(entry)) return canonicalAddress(entry) === s.service;
  if (s.name === null) return false;
  if (s.name === entry) return true;
  const colon = s.name.lastIndexOf(':');
  return colon > 0 && s.name.slice(0, colon) === entry;
}

/** Up to three catalog names closest to entry ("ns/name[:port]"), nearest first. */
export function nearNames(entry: string, names: Iterable<string>): string[] {
  const base = (n: string) => (n.lastIndexOf(':') > 0 ? n.slice(0, n.lastIndexOf(':')) : n);
  const wanted = base(entry);
  const short = wanted.slice(wanted.indexOf('/') + 1);
  return [...new Set(names)]
    .map((n) => ({ n, d: base(n).endsWith(`/${short}`) ? 0 : editDistance(base(n), wanted) }))
    .filter((c) => c.d <= Math.max(1, Math.floor(wanted.length / 5)))
    .sort((x, y) => x.d - y.d || x.n.localeCompare(y.n))
    .slice(0, 3)
    .map((c) => c.n);
}

/**
 * Trims catalogs to the Services asked for. With `agents`, when no name asked for matches any Service once the first
 * catalog of every agent (or the Kubernetes API's, which lists them all) has arrived, and no address was asked for,
 * that is a usage error: listening on would only end in an empty report. One mistyped name of several is a warning.
 */
export async function* scopeCatalogs(
  batches: AsyncIterable<StickyEvent[]>,
  entries: readonly string[],
  onWarning: (message: string) => void = () => {},
  agents?: number,
): AsyncGenerator<StickyEvent[]> {
  const unmatched = new Set(entries.filter((e) => !/\/(tcp|udp|sctp)$/.test(e)));
  const told = new Set<string>();
  const seen = new Set<string>();
  const names = new Set<string>();
  for await (const batch of batches) {
    yield batch.map((e) => {
      if (e.type !== 'catalog') return e;
      seen.add(e.node);
      for (const s of e.services) if (s.name !== null) names.add(s.name);
      for (const entry of unmatched) {
        if (e.services.some((s) => entryMatches(entry, s))) unmatched.delete(entry);
        else if (!told.has(entry)) {
          told.add(entry);
          const near = nearNames(
            entry,
            e.services.flatMap((s) => (s.name === null ? [] : [s.name])),
          );
          onWarning(
            `--service ${entry}: no Service of that name in the catalog of node '${e.node || 'the Kubernetes API'}'${near.length > 0 ? `; near matches: ${near.join(', ')}` : ''}`,
          );
        }
      }
      return { ...e, services: e.services.filter((s) => entries.some((entry) => entryMatches(entry, s))) };
    });
    const everyone = agents !== undefined && (seen.has(CLUSTER_NODE) || seen.size >= agents);
    if (everyone && unmatched.size > 0 && unmatched.size === entries.length) {
      const [entry] = unmatched;
      const near = nearNames(entry!, names);
      throw new UsageError(
        `--service ${entry} matches no Service of ${seen.has(CLUSTER_NODE) ? 'the Kubernetes API' : `the ${seen.size} agent${seen.size === 1 ? '' : 's'}`}${near.length > 0 ? `; near matches: ${near.join(', ')}` : ''}`,
      );
    }
  }
}
