// Simulated agents for the scale bench (scale.ts): N gRPC servers in this process, each on
// its own loopback port with its own node certificate (mutual TLS), speaking the real
// protocol. Raw mode streams precomputed EventBatch bytes at the given connection rate;
// summary mode sends cumulative summaries every period. Cheap on purpose: flows are
// encoded once at start, only the batch's node name is prefixed per agent.
// Commands on stdin, one a line: `marker NODE_INDEX ID` (one selection of a marker Service,
// backend 10.250.x.y:80 named by ID), `stats` (prints offered and dropped counts as JSON).
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import type { CatalogEvent, DnatEvent, ServiceInfo, StickyEvent } from '../../src/core/event.js';
import type { NodeSummary } from '../../src/core/summary.js';
import { countFields } from '../../src/core/summary.js';
import { infoMethod, subscribeMethod, subscribeSummariesMethod } from '../../src/protocol/service-def.js';
import { encodeSummary } from '../../src/protocol/summary-wire.js';
import { agentCredentials } from '../../src/protocol/tls.js';
import { encodeBatch } from '../../src/protocol/wire.js';
import type { AgentInfo } from '../../src/protocol/wire.js';

export interface SimOptions {
  nodes: string[];
  /** Holds NODE.crt, NODE.key and ca.crt. */
  certDir: string;
  mode: 'raw' | 'summary';
  /** New connections per node per second. */
  rate: number;
  services: number;
  backends: number;
  /** Distinct clients per node. */
  clients: number;
  periodMs: number;
}

const opts = JSON.parse(process.argv[2]!) as SimOptions;
const TICK_MS = 100;

const serviceAddr = (s: number) => `10.96.${s >> 8}.${s & 255}:80`;
const backendAddr = (s: number, b: number) => `10.1.${s & 255}.${b + 2}:8080`;
const markerBackend = (id: number) => `10.250.${(id >> 8) & 255}.${id & 255}:80`;
const MARKER_SERVICE = '10.99.0.1:80';

const services: ServiceInfo[] = Array.from({ length: opts.services }, (_, s) => ({
  service: `${serviceAddr(s)}/tcp`,
  name: `sim/svc-${s}:http`,
  affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
  endpoints: Array.from({ length: opts.backends }, (_, b) => backendAddr(s, b)),
  pods: {},
}));
const catalog = (node: string): CatalogEvent => ({ type: 'catalog', ts: Date.now() * 1000, node, services });

let seed = 12345;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};

/** The node field of an EventBatch (field 1, length-delimited), to put before shared event bytes. */
function nodePrefix(node: string): Buffer {
  const name = Buffer.from(node);
  return Buffer.concat([Buffer.from([0x0a, name.length]), name]);
}

/** Raw mode: a few batches of one tick's flows each, encoded once with an empty node, so each agent's node is the batch's. */
const perTick = Math.max(1, Math.round((opts.rate * TICK_MS) / 1000));
const rawBatches: Buffer[] =
  opts.mode === 'raw'
    ? Array.from({ length: 8 }, () => {
        const ts = Date.now() * 1000;
        const events: DnatEvent[] = Array.from({ length: perTick }, (_, i) => {
          const s = rnd(opts.services);
          return {
            type: 'dnat',
            ts: ts + i,
            node: 'X',
            proto: 'tcp',
            client: `10.${100 + (rnd(opts.clients) >> 8)}.${rnd(opts.clients) & 255}.9:${30000 + i}`,
            service: serviceAddr(s),
            backend: backendAddr(s, rnd(opts.backends)),
            hook: 'prerouting',
            ctId: i.toString(16),
          };
        });
        // Encoded for node "X", whose header (0a 01 58) is cut off: the events then name no node.
        return Buffer.from(encodeBatch(events)).subarray(3);
      })
    : [];

interface Node {
  name: string;
  prefix: Buffer;
  raw: Set<grpc.ServerWritableStream<unknown, Buffer>>;
  summaries: Set<grpc.ServerWritableStream<unknown, Uint8Array>>;
  /** Summary mode: cumulative counts per Service and backend, and pairs/kept. */
  counts: number[][];
  pairs: number[];
  kept: number[];
  markers: number[];
  pendingMarkers: number[];
}

let offered = 0;
let dropped = 0;
let summariesSent = 0;

function summaryOf(n: Node, events: StickyEvent[]): NodeSummary {
  const now = Date.now() * 1000;
  const svcs: NodeSummary['services'] = services.map((s, i) => {
    const c = {
      service: s.service,
      backends: s.endpoints.map((b, j) => ({ backend: b, selections: n.counts[i]![j]! })),
    } as NodeSummary['services'][number];
    for (const f of countFields) c[f] = 0;
    c.pairs = n.pairs[i]!;
    c.sameBackend = n.kept[i]!;
    c.clientsHll = new Uint8Array(0);
    return c;
  });
  if (n.markers.length > 0) {
    const m = {
      service: `${MARKER_SERVICE}/tcp`,
      backends: n.markers.map((id) => ({ backend: markerBackend(id), selections: 1 })),
    } as NodeSummary['services'][number];
    for (const f of countFields) m[f] = 0;
    m.clientsHll = new Uint8Array(0);
    svcs.push(m);
  }
  return { node: n.name, start: now, end: now, services: svcs, violations: [], events };
}

/** Summary mode: one period of the node's traffic, spread over its Services and backends at random. */
function advance(n: Node): void {
  const picks = Math.round((opts.rate * opts.periodMs) / 1000);
  for (let i = 0; i < picks; i++) {
    const s = rnd(opts.services);
    n.counts[s]![rnd(opts.backends)]!++;
    n.pairs[s]!++;
    if (rnd(opts.backends) === 0) n.kept[s]!++;
  }
  offered += picks;
}

const nodes: Node[] = [];
const servers: grpc.Server[] = [];

async function start(name: string): Promise<number> {
  const n: Node = {
    name,
    prefix: nodePrefix(name),
    raw: new Set(),
    summaries: new Set(),
    counts: services.map(() => new Array(opts.backends).fill(0)),
    pairs: services.map(() => 0),
    kept: services.map(() => 0),
    markers: [],
    pendingMarkers: [],
  };
  nodes.push(n);
  const credentials = await agentCredentials(
    {
      cert: join(opts.certDir, `${name}.crt`),
      key: join(opts.certDir, `${name}.key`),
      clientCa: join(opts.certDir, 'ca.crt'),
    },
    name,
    // Certificates are not rotated here: a thousand file watchers would only cost the machine.
    3_600_000,
  );
  const server = new grpc.Server({ 'grpc.keepalive_time_ms': 10_000 });
  const info = (): AgentInfo => ({
    nodeName: name,
    kernelRelease: 'sim',
    attachPoints: [],
    counters: null,
    lostEvents: 0,
    subscribers: n.raw.size + n.summaries.size,
    subscriberLost: 0,
    services: opts.services,
    limits: { rejectedSubscribers: 0, invalidFilters: 0, oversizedMessages: 0, stalledSubscribers: 0, pingFloods: 0 },
    maxSubscribers: 16,
    proxyMode: 'iptables',
  });
  const def: grpc.ServiceDefinition = {
    Subscribe: { ...subscribeMethod, responseSerialize: (b: Buffer) => b },
    Info: infoMethod,
    ...(opts.mode === 'summary' ? { SubscribeSummaries: subscribeSummariesMethod } : {}),
  };
  server.addService(def, {
    Subscribe(call: grpc.ServerWritableStream<unknown, Buffer>) {
      call.sendMetadata(new grpc.Metadata());
      call.write(Buffer.from(encodeBatch([catalog(name)])));
      n.raw.add(call);
      const gone = () => n.raw.delete(call);
      call.on('cancelled', gone);
      call.on('close', gone);
      call.on('error', gone);
    },
    Info(_call: unknown, cb: grpc.sendUnaryData<AgentInfo>) {
      cb(null, info());
    },
    SubscribeSummaries(call: grpc.ServerWritableStream<unknown, Uint8Array>) {
      call.sendMetadata(new grpc.Metadata());
      call.write(encodeSummary(summaryOf(n, [catalog(name)])));
      n.summaries.add(call);
      const gone = () => n.summaries.delete(call);
      call.on('cancelled', gone);
      call.on('close', gone);
      call.on('error', gone);
    },
  });
  servers.push(server);
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, port) => (err ? reject(err) : resolve(port))),
  );
}

const ports: number[] = [];
for (const name of opts.nodes) ports.push(await start(name));

let tick = 0;
if (opts.mode === 'raw') {
  setInterval(() => {
    const body = rawBatches[tick++ % rawBatches.length]!;
    for (const n of nodes) {
      for (const call of n.raw) {
        offered += perTick;
        // What the subscriber cannot take is dropped, as an agent drops for a slow subscriber.
        if (call.writableLength > 4 * 1024 * 1024) dropped += perTick;
        else call.write(Buffer.concat([n.prefix, body]));
      }
      for (const id of n.pendingMarkers) {
        const e: DnatEvent = {
          type: 'dnat',
          ts: Date.now() * 1000,
          node: n.name,
          proto: 'tcp',
          client: '10.99.99.99:1',
          service: MARKER_SERVICE,
          backend: markerBackend(id),
          hook: 'prerouting',
          ctId: `m${id}`,
        };
        for (const call of n.raw) call.write(Buffer.from(encodeBatch([e])));
      }
      n.pendingMarkers = [];
    }
  }, TICK_MS);
} else {
  // Each node's period starts at its own phase, as real agents started at different times.
  nodes.forEach((n) => {
    setTimeout(
      () =>
        setInterval(() => {
          advance(n);
          const fresh = n.pendingMarkers;
          n.markers.push(...fresh);
          n.pendingMarkers = [];
          if (n.summaries.size === 0) {
            if (fresh.length > 0) process.stderr.write(`sim: marker ${fresh} of ${n.name} waits: no subscriber\n`);
            return;
          }
          const bytes = encodeSummary(summaryOf(n, []));
          for (const call of n.summaries) call.write(bytes);
          if (fresh.length > 0)
            process.stderr.write(`sim: marker ${fresh} of ${n.name} written at ${Date.now() % 100000} ms\n`);
          summariesSent++;
        }, opts.periodMs),
      rnd(opts.periodMs),
    );
  });
}

process.stdout.write(`${JSON.stringify({ ports })}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, a, b] = line.trim().split(' ');
  if (cmd === 'marker') nodes[Number(a)]?.pendingMarkers.push(Number(b));
  else if (cmd === 'stats') {
    const mem = process.memoryUsage().rss;
    process.stdout.write(`${JSON.stringify({ offered, dropped, summariesSent, rss: mem, cpu: process.cpuUsage() })}\n`);
  }
});
process.stdin.on('end', () => {
  for (const s of servers) s.forceShutdown();
  process.exit(0);
});
