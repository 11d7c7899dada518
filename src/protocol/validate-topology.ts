// Checks of the API's topology facts in a catalog (ServiceInfo.topology, CatalogEvent.nodes), as validate.ts checks
// the rest of an event: one Rejection naming the field, what was expected and what came.
import { addressProblem, malformed, type Rejection } from './validate.js';

/** Names kept short: a zone or node name is a label value or DNS name (253 characters at most). */
const MAX_NAME = 253;
const isName = (v: unknown) => typeof v === 'string' && v.length <= MAX_NAME;
const optionalName = (v: unknown) => v === undefined || (isName(v) && v !== '');
const names = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((x) => isName(x) && x !== ''));

export function nodesProblem(nodes: unknown): Rejection | null {
  if (nodes === undefined) return null;
  if (!Array.isArray(nodes)) return malformed('nodes', 'a list', nodes);
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i] as Record<string, unknown> | null;
    if (typeof n !== 'object' || n === null || !isName(n.name) || n.name === '' || !optionalName(n.zone))
      return malformed(`nodes[${i}]`, '{ name, zone? } with names of up to 253 characters', n);
  }
  return null;
}

export function topologyProblem(x: unknown, at: string): Rejection | null {
  if (x === undefined) return null;
  const t = x as Record<string, unknown> | null;
  if (typeof t !== 'object' || t === null) return malformed(at, 'an object', t);
  if (t.policy !== 'Cluster' && t.policy !== 'Local')
    return malformed(`${at}.policy`, "'Cluster' or 'Local'", t.policy);
  if (!optionalName(t.distribution)) return malformed(`${at}.distribution`, 'a name or absent', t.distribution);
  if (!Array.isArray(t.endpoints)) return malformed(`${at}.endpoints`, 'a list', t.endpoints);
  for (let i = 0; i < t.endpoints.length; i++) {
    const where = `${at}.endpoints[${i}]`;
    const e = t.endpoints[i] as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null) return malformed(where, 'an object', e);
    const ap = addressProblem(e.endpoint, `${where}.endpoint`, true);
    if (ap) return ap;
    for (const f of ['node', 'zone'] as const)
      if (!optionalName(e[f])) return malformed(`${where}.${f}`, 'a name or absent', e[f]);
    for (const f of ['zoneHints', 'nodeHints'] as const)
      if (!names(e[f])) return malformed(`${where}.${f}`, 'a list of names or absent', e[f]);
    for (const f of ['ready', 'serving', 'terminating'] as const)
      if (typeof e[f] !== 'boolean') return malformed(`${where}.${f}`, 'true or false', e[f]);
  }
  return null;
}
