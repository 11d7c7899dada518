// A synthetic node with long-lived connections, as the conntrack source reports it: connections open when tracing
// began (`open`, seen=dump, some with no known start), new ones (`dnat`), sweeps with cumulative counters (`traffic`),
// ends (`close`, some with final counters, one found gone by a sweep), and two endpoints added late. The ground truth
// (open connections, bytes per backend in a window, oldest start, who predates what) is kept here, from the script,
// not from the aggregator.
import type { CatalogEvent, ServiceInfo, StickyEvent } from '../../src/core/event.js';

export const T0 = Date.UTC(2026, 11, 7, 12, 0, 0) * 1000;
export const S = 1e6;
export const SERVICE = '10.96.0.20:80';
export const [A, B, C, D, E] = ['10.1.1.2:8080', '10.1.1.3:8080', '10.1.1.4:8080', '10.1.1.5:8080', '10.1.1.6:8080'];
const NODE = 'node-a';

interface Script {
  client: string;
  backend: string;
  /** When it began (µs); `startKnown` false: the dump had no timestamp. */
  start: number;
  startKnown: boolean;
  /** Seconds after T0 it becomes known: as a dump `open` (0) or by its `dnat`. */
  via: 'dump' | 'dnat';
  /** Bytes both ways per second while open. */
  rate: number;
  /** Seconds after T0 it ends (Infinity: still open); `endSeen` how. */
  end: number;
  endSeen: 'destroy' | 'sweep';
}

export interface LiveTruth {
  /** The last event's time. */
  end: number;
  open: Record<string, number>;
  /** Bytes per backend counted in (end - windowSeconds, end]. */
  windowBytes(windowSeconds: number): Record<string, number>;
  cumulativeBytes: Record<string, number>;
  /** Oldest open connection's age per backend, seconds at `end`. */
  oldestSeconds: Record<string, number>;
  openByClient: Record<string, number>;
  /** Open connections that began before D and E joined, of all open. */
  predating: number;
  openTotal: number;
  endpointsAddedAt: number;
}

const scripts: Script[] = [
  // Before tracing: three keep-alive clients, two on A, one on B; C gets nothing.
  {
    client: '10.0.0.1:40001',
    backend: A,
    start: T0 - 600 * S,
    startKnown: true,
    via: 'dump',
    rate: 1000,
    end: Infinity,
    endSeen: 'destroy',
  },
  {
    client: '10.0.0.2:40002',
    backend: A,
    start: T0 - 300 * S,
    startKnown: false,
    via: 'dump',
    rate: 3000,
    end: Infinity,
    endSeen: 'destroy',
  },
  {
    client: '10.0.0.3:40003',
    backend: B,
    start: T0 - 120 * S,
    startKnown: true,
    via: 'dump',
    rate: 2000,
    end: Infinity,
    endSeen: 'destroy',
  },
  // A short one from before tracing that ends by a destroy message, and one a sweep finds gone.
  {
    client: '10.0.0.4:40004',
    backend: C,
    start: T0 - 50 * S,
    startKnown: true,
    via: 'dump',
    rate: 500,
    end: 25,
    endSeen: 'destroy',
  },
  {
    client: '10.0.0.5:40005',
    backend: B,
    start: T0 - 40 * S,
    startKnown: true,
    via: 'dump',
    rate: 700,
    end: 33,
    endSeen: 'sweep',
  },
  // A new connection during tracing, to A, closed again.
  {
    client: '10.0.0.6:40006',
    backend: A,
    start: T0 + 12 * S,
    startKnown: true,
    via: 'dnat',
    rate: 400,
    end: 47,
    endSeen: 'destroy',
  },
];

/** Sweeps every SWEEP seconds; D and E join at ADD seconds; the trace ends at END seconds. */
const SWEEP = 10;
const ADD = 50;
const END = 60;

function info(endpoints: string[]): ServiceInfo {
  return {
    service: `${SERVICE}/tcp`,
    name: 'lab/web:http',
    affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
    endpoints,
  };
}

/** Counters of connection `s` at second `t` (relative to T0): what it carried since it began. */
function counters(s: Script, t: number) {
  const secs = Math.max(0, Math.min(t, s.end) - (s.start - T0) / S);
  const total = Math.round(secs * s.rate);
  const orig = Math.floor(total / 4);
  return {
    origPackets: Math.ceil(orig / 100),
    origBytes: orig,
    replyPackets: Math.ceil((total - orig) / 100),
    replyBytes: total - orig,
  };
}

export function liveTrace(): { events: StickyEvent[]; truth: LiveTruth } {
  const events: StickyEvent[] = [];
  const at = (sec: number) => T0 + sec * S;
  const catalog = (sec: number, endpoints: string[]): CatalogEvent => ({
    type: 'catalog',
    ts: at(sec),
    node: NODE,
    services: [info(endpoints)],
    proxyMode: 'iptables',
  });
  events.push(catalog(0, [A, B, C]));
  const conn = (s: Script) => ({
    node: NODE,
    proto: 'tcp' as const,
    client: s.client,
    service: SERVICE,
    backend: s.backend,
    tcpState: 'ESTABLISHED' as const,
    ...(s.startKnown ? { start: s.start } : {}),
  });
  const isOpen = (s: Script, t: number) => (s.start - T0) / S <= t && t < s.end;
  // The dump at attach, then the initial sweep.
  let dumpTs = 0.001;
  for (const s of scripts.filter((x) => x.via === 'dump')) {
    // Counters as of attach: the dump reads them within milliseconds.
    events.push({ type: 'open', ts: at(dumpTs), seen: 'dump', ...conn(s), ...counters(s, 0) });
    dumpTs += 0.001;
  }
  const openAt = (t: number) => scripts.filter((s) => isOpen(s, t)).length;
  events.push({
    type: 'sweep',
    ts: at(0.01),
    node: NODE,
    initial: true,
    entries: 40,
    open: openAt(0.01),
    acct: true,
    micros: 9000,
  });
  for (const s of scripts.filter((x) => x.via === 'dnat'))
    events.push({
      type: 'dnat',
      ts: s.start,
      node: NODE,
      proto: 'tcp',
      client: s.client,
      service: SERVICE,
      backend: s.backend,
      hook: 'prerouting',
      ctId: 'c6',
    });
  for (const s of scripts.filter((x) => x.endSeen === 'destroy' && x.end < END))
    events.push({ type: 'close', ts: at(s.end), seen: 'destroy', ...conn(s), ...counters(s, s.end) });
  for (let t = SWEEP; t <= END; t += SWEEP) {
    for (const s of scripts) {
      const sinceStart = (s.start - T0) / S;
      if (sinceStart > t) continue;
      if (s.end < t && s.end > t - SWEEP && s.endSeen === 'sweep')
        events.push({
          type: 'close',
          ts: at(t),
          seen: 'sweep',
          since: at(t - SWEEP),
          ...conn(s),
          ...counters(s, t - SWEEP),
        });
      if (!isOpen(s, t)) continue;
      events.push({ type: 'traffic', ts: at(t), ...conn(s), ...counters(s, t) });
    }
    events.push({
      type: 'sweep',
      ts: at(t) + 1,
      node: NODE,
      initial: false,
      entries: 40,
      open: openAt(t),
      acct: true,
      micros: 5000,
    });
  }
  events.push(catalog(ADD, [A, B, C, D, E]));
  events.sort((x, y) => x.ts - y.ts);
  return { events, truth: truthOf(events) };
}

/** The answers, from the script (bytes from the counters each event carries, counted where the script says). */
function truthOf(events: StickyEvent[]): LiveTruth {
  const end = events[events.length - 1]!.ts;
  const endSec = (end - T0) / S;
  const open: Record<string, number> = { [A]: 0, [B]: 0, [C]: 0, [D]: 0, [E]: 0 };
  const oldestSeconds: Record<string, number> = {};
  const openByClient: Record<string, number> = {};
  let predating = 0;
  let openTotal = 0;
  for (const s of scripts) {
    if (!((s.start - T0) / S <= endSec && endSec < s.end)) continue;
    open[s.backend]!++;
    openTotal++;
    const ip = s.client.split(':')[0]!;
    openByClient[ip] = (openByClient[ip] ?? 0) + 1;
    // A start the dump did not know is the moment tracing heard of it.
    const start = s.startKnown ? s.start : T0 + 0.002 * S;
    oldestSeconds[s.backend] = Math.max(oldestSeconds[s.backend] ?? 0, (end - start) / S);
    if (start < T0 + ADD * S) predating++;
  }
  // Bytes move at each sweep (and a destroy's final counters); a connection's bytes before tracing are not counted.
  const moves: { ts: number; backend: string; bytes: number }[] = [];
  for (const s of scripts) {
    let prev = s.via === 'dump' ? counters(s, 0) : counters(s, (s.start - T0) / S);
    const stops: number[] = [];
    for (let t = SWEEP; t <= END; t += SWEEP) if (isOpenAt(s, t)) stops.push(t);
    if (s.end < END && s.endSeen === 'destroy') stops.push(s.end);
    for (const t of stops.sort((x, y) => x - y)) {
      const c = counters(s, t);
      const d = c.origBytes + c.replyBytes - prev.origBytes - prev.replyBytes;
      if (d > 0) moves.push({ ts: T0 + t * S, backend: s.backend, bytes: d });
      prev = c;
    }
  }
  const sum = (from: number) => {
    const out: Record<string, number> = { [A]: 0, [B]: 0, [C]: 0, [D]: 0, [E]: 0 };
    for (const m of moves) if (m.ts >= from) out[m.backend]! += m.bytes;
    return out;
  };
  return {
    end,
    open,
    windowBytes: (w) => sum(end - w * S),
    cumulativeBytes: sum(-Infinity),
    oldestSeconds,
    openByClient,
    predating,
    openTotal,
    endpointsAddedAt: T0 + ADD * S,
  };
}

function isOpenAt(s: Script, t: number): boolean {
  return (s.start - T0) / S <= t && t < s.end;
}
