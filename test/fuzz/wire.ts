// Fuzz targets: the gRPC wire decoders, where an agent's stream (decodeBatch, also every trace file's batches), a
// subscriber's filter (decodeFilter, on the agent) and an agent's Info (decodeInfo) enter.
import type { StickyEvent } from '../../src/core/event.js';
import {
  decodeBatch,
  decodeFilter,
  decodeInfo,
  encodeBatch,
  encodeFilter,
  encodeInfo,
  type AgentInfo,
} from '../../src/protocol/wire.js';
import { InvalidResult, type FuzzTarget } from './target.js';

const T0 = 1_795_435_865_000_000;
const flow = (type: 'dnat' | 'snat', i: number): StickyEvent =>
  ({
    type,
    ts: T0 + i,
    node: i % 2 ? 'n1' : 'n2',
    proto: 'tcp',
    client: `10.0.0.${i}:4000${i}`,
    service: '10.96.0.10:80',
    backend: `[fd00::${i}]:8080`,
    hook: 'prerouting',
    ctId: `${i}`,
    serviceName: 'lab/web:http',
    ...(type === 'snat' ? { snat: '10.1.0.1:5000' } : {}),
  }) as StickyEvent;
const sample: StickyEvent[] = [
  flow('dnat', 1),
  flow('snat', 2),
  { type: 'lost', ts: T0 + 3, node: 'n1', count: 7 },
  { type: 'counters', ts: T0 + 4, node: 'n1', insertFailed: 1, drop: 2, earlyDrop: 3, entries: 4 },
  {
    type: 'catalog',
    ts: T0 + 5,
    node: 'n1',
    services: [
      {
        service: '10.96.0.10:80/tcp',
        name: 'lab/web:http',
        affinity: { mode: 'ClientIP', timeoutSeconds: 10, source: 'rules' },
        endpoints: ['10.1.0.2:8080'],
        pods: { '10.1.0.2:8080': 'lab/web-0' },
      },
    ],
  },
  {
    type: 'evicted',
    ts: T0 + 6,
    node: 'n1',
    list: 'KUBE-SEP-X',
    endpoint: '10.1.0.2:8080',
    client: '10.0.0.1',
    capacity: 200,
    since: T0,
  },
  { type: 'node', ts: T0 + 7, node: 'n2', state: 'down', reason: 'gone' },
];

export const batchTarget: FuzzTarget = {
  name: 'wire-batch',
  seeds: () => [encodeBatch(sample), encodeBatch([sample[0]!]), encodeBatch(sample.slice(2))],
  run(input) {
    const events = decodeBatch(input);
    if (!Array.isArray(events)) throw new InvalidResult('decodeBatch returned no array');
    // What was decoded can be written again (a trace of it, a re-served stream).
    encodeBatch(events);
  },
};

export const filterTarget: FuzzTarget = {
  name: 'wire-filter',
  seeds: () => [
    encodeFilter({ services: ['lab/web', '10.96.0.10:80/tcp'], clients: ['10.0.0.7'], protos: ['tcp', 'udp'] }),
  ],
  run(input) {
    const f = decodeFilter(input);
    for (const list of [f.services, f.clients, f.protos])
      if (!Array.isArray(list) || list.some((s) => typeof s !== 'string'))
        throw new InvalidResult('decodeFilter returned a list that is not strings');
  },
};

const info: AgentInfo = {
  nodeName: 'n1',
  kernelRelease: '6.18.0',
  attachPoints: ['prerouting/-99'],
  counters: { insertFailed: 1, drop: 2, earlyDrop: 3, entries: 4 },
  lostEvents: 5,
  subscribers: 2,
  subscriberLost: 9,
  services: 3,
  limits: { rejectedSubscribers: 1, invalidFilters: 2, oversizedMessages: 3, stalledSubscribers: 4, pingFloods: 5 },
  maxSubscribers: 16,
  proxyMode: 'nftables',
};

export const infoTarget: FuzzTarget = {
  name: 'wire-info',
  seeds: () => [encodeInfo(info), encodeInfo({ ...info, counters: null })],
  run(input) {
    const i = decodeInfo(input);
    if (typeof i.nodeName !== 'string' || !Number.isFinite(i.lostEvents) || !Number.isFinite(i.limits.pingFloods))
      throw new InvalidResult(`decodeInfo returned ${JSON.stringify(i)}`);
  },
};
