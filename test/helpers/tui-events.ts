// Synthetic selections with known ground truth: which backend each selection went to
// and which picks broke affinity, decided here by a seeded generator, so tests can
// compare what the UI shows against what was generated rather than against the code.
import type { CatalogEvent, DnatEvent, ServiceInfo, StickyEvent } from '../../src/core/event.js';

export interface SyntheticService {
  /** "ip:port" */
  address: string;
  name: string;
  endpoints: string[];
  /** Affinity timeout in seconds, or null for no affinity. */
  timeoutSeconds: number | null;
  /** Probability that a pick within the timeout deliberately moves (an affinity violation). */
  violationRate?: number;
  /** Relative weights of the endpoints for fresh picks (default uniform). */
  weights?: number[];
}

export interface SyntheticOptions {
  node?: string;
  start?: number;
  durationSeconds: number;
  selectionsPerSecond: number;
  clients: number;
  seed?: number;
}

export interface Truth {
  /** service key ("ip:port/tcp") -> backend -> selections. */
  backendCounts: Map<string, Map<string, number>>;
  /** service key -> violations generated. */
  violations: Map<string, number>;
  /** service key -> client ip -> selections. */
  picks: Map<string, Map<string, number>>;
  /** Violations in order: client, service key, from, to. */
  violationList: { client: string; service: string; from: string; to: string }[];
}

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function catalogOf(services: SyntheticService[], node: string, ts: number): CatalogEvent {
  const info = services.map(
    (s): ServiceInfo => ({
      service: `${s.address}/tcp`,
      name: s.name,
      affinity:
        s.timeoutSeconds === null
          ? { mode: 'None', timeoutSeconds: null, source: 'rules' }
          : { mode: 'ClientIP', timeoutSeconds: s.timeoutSeconds, source: 'rules' },
      endpoints: s.endpoints,
      pods: Object.fromEntries(s.endpoints.map((e, i) => [e, `${s.name.split('/')[1]!.split(':')[0]}-${i}`])),
    }),
  );
  return { type: 'catalog', ts, node, services: info };
}

/** A catalog first, then selections spread evenly over the duration, each recorded in the truth. */
export function synthesize(
  services: SyntheticService[],
  opts: SyntheticOptions,
): { events: StickyEvent[]; truth: Truth } {
  const node = opts.node ?? 'node-a';
  const start = opts.start ?? T0;
  const rand = prng(opts.seed ?? 1);
  const truth: Truth = { backendCounts: new Map(), violations: new Map(), picks: new Map(), violationList: [] };
  const last = new Map<string, { backend: string; ts: number }>();
  const events: StickyEvent[] = [catalogOf(services, node, start)];
  const total = Math.round(opts.durationSeconds * opts.selectionsPerSecond);
  const step = 1e6 / opts.selectionsPerSecond;
  const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
  for (let i = 0; i < total; i++) {
    const ts = start + 1000 + Math.round(i * step);
    const s = services[Math.floor(rand() * services.length)]!;
    const key = `${s.address}/tcp`;
    const client = `10.0.${1 + Math.floor(rand() * Math.ceil(opts.clients / 250))}.${2 + Math.floor(rand() * Math.min(250, opts.clients))}`;
    const prev = last.get(`${key}|${client}`);
    const fresh = () => weighted(s, rand);
    let backend: string;
    if (prev && s.timeoutSeconds !== null && ts - prev.ts <= s.timeoutSeconds * 1e6) {
      backend = prev.backend;
      if (s.endpoints.length > 1 && rand() < (s.violationRate ?? 0)) {
        const others = s.endpoints.filter((e) => e !== prev.backend);
        backend = others[Math.floor(rand() * others.length)]!;
        bump(truth.violations, key);
        truth.violationList.push({ client, service: key, from: prev.backend, to: backend });
      }
    } else backend = fresh();
    last.set(`${key}|${client}`, { backend, ts });
    if (!truth.backendCounts.has(key)) truth.backendCounts.set(key, new Map());
    bump(truth.backendCounts.get(key)!, backend);
    if (!truth.picks.has(key)) truth.picks.set(key, new Map());
    bump(truth.picks.get(key)!, client);
    const ev: DnatEvent = {
      type: 'dnat',
      ts,
      node,
      proto: 'tcp',
      client: `${client}:${30000 + (i % 30000)}`,
      service: s.address,
      backend,
      hook: 'prerouting',
      ctId: i.toString(16).padStart(16, '0'),
    };
    events.push(ev);
  }
  return { events, truth };
}

function weighted(s: SyntheticService, rand: () => number): string {
  const w = s.weights ?? s.endpoints.map(() => 1);
  let r = rand() * w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < w.length; i++) {
    r -= w[i]!;
    if (r < 0) return s.endpoints[i]!;
  }
  return s.endpoints.at(-1)!;
}
