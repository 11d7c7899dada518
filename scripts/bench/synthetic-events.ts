// Synthetic, time-ordered events for measuring the aggregator (throughput, memory).
// Address strings are built per event, as a decoder would, so lookups pay for hashing.
import type { CatalogEvent, DnatEvent, ServiceInfo } from '../../src/core/event.js';

export interface SyntheticShape {
  clients: number;
  services: number;
  backendsPerService: number;
  nodes: number;
  /** Microseconds between consecutive selections. */
  spacingUs: number;
  /** Share of selections that repeat the client's previous backend. */
  stickyShare: number;
  seed?: number;
}

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;

export function serviceAddr(s: number): string {
  return `10.96.${s >> 8}.${s & 255}:80`;
}

export function clientAddr(c: number): string {
  return `10.${(c >> 16) & 255}.${(c >> 8) & 255}.${c & 255}`;
}

function backendAddr(s: number, b: number): string {
  return `10.1.${s & 255}.${b + 2}:8080`;
}

/** One catalog per node: even services have ClientIP affinity with the default timeout. */
export function syntheticCatalogs(shape: SyntheticShape): CatalogEvent[] {
  const services: ServiceInfo[] = [];
  for (let s = 0; s < shape.services; s++) {
    services.push({
      service: `${serviceAddr(s)}/tcp`,
      name: `bench/svc-${s}:http`,
      affinity:
        s % 2 === 0
          ? { mode: 'ClientIP', timeoutSeconds: 10800, source: 'k8s' }
          : { mode: 'None', timeoutSeconds: null, source: 'k8s' },
      endpoints: Array.from({ length: shape.backendsPerService }, (_, b) => backendAddr(s, b)),
    });
  }
  return Array.from({ length: shape.nodes }, (_, n) => ({ type: 'catalog', ts: T0, node: `node-${n}`, services }));
}

/** `count` selections starting at selection number `from`; client i always uses service i mod services. */
export function syntheticSelections(shape: SyntheticShape, from: number, count: number): DnatEvent[] {
  let x = (shape.seed ?? 1) ^ (from * 2654435761);
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const out: DnatEvent[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const k = from + i;
    const c = k % shape.clients;
    const s = c % shape.services;
    const b = rand() < shape.stickyShare ? c % shape.backendsPerService : Math.floor(rand() * shape.backendsPerService);
    out[i] = {
      type: 'dnat',
      ts: T0 + 1 + k * shape.spacingUs,
      node: `node-${c % shape.nodes}`,
      proto: 'tcp',
      client: `${clientAddr(c)}:${30000 + (k % 30000)}`,
      service: serviceAddr(s),
      backend: backendAddr(s, b),
      hook: 'prerouting',
      ctId: k.toString(16),
    };
  }
  return out;
}
