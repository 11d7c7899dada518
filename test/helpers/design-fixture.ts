// One recording exercising every feature the export format and the report JSON can show (affinity verdicts of every
// cause, NodePort divergence, UDP replacement, lost events, node gaps, live connections, IPv6): docs/design.md's test
// reads the fields the code writes for it.
import { CLUSTER_NODE, type StickyEvent } from '../../src/core/event.js';
import { dnatEvent } from './events.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const S = 1e6;
const [A, B, C] = ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'];
const [UA, UB] = ['10.1.1.2:3478', '10.1.2.2:3478'];
const STICKY = '10.96.0.11:80';
const EDGE1 = '10.3.0.1:31332';
const EDGE2 = '10.3.0.2:31332';
const STUN = '10.96.0.40:3478';

const sticky = (endpoints: string[]) => ({
  service: `${STICKY}/tcp`,
  name: 'lab/sticky:http',
  affinity: { mode: 'ClientIP' as const, timeoutSeconds: 10, source: 'rules' as const },
  endpoints,
  pods: { [A]: 'sticky-a', [B]: 'sticky-b', [C]: 'sticky-c' },
});
const edge = (addr: string) => ({
  service: `${addr}/tcp`,
  name: 'lab/edge:http',
  affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
  endpoints: [A, B],
});
/** A Service kube-proxy rejects on n1: it has no endpoints. */
const empty = {
  service: '10.96.0.46:80/tcp',
  name: 'lab/empty:http',
  affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
  endpoints: [],
  noEndpoints: 'reject' as const,
};
const stun = {
  service: `${STUN}/udp`,
  name: 'lab/stun:stun',
  affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
  endpoints: [UA, UB],
};

/**
 * A dual-stack Service as the API lists it: one entry per family, its pod named in both; PreferSameZone, with the
 * IPv4 endpoint hinted and the IPv6 one not (so node n1 falls back), a second pod not ready.
 */
const cart = ['10.96.0.50:80/tcp', '[fd00:96::50]:80/tcp'].map((service, i) => {
  const endpoint = i === 0 ? '10.1.5.2:8080' : '[fd00:1:5::2]:8080';
  return {
    service,
    name: 'lab/cart:http',
    affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'k8s' as const },
    endpoints: [endpoint],
    pods: { [endpoint]: 'lab/cart-0' },
    topology: {
      policy: 'Cluster' as const,
      distribution: 'PreferSameZone',
      endpoints: [
        {
          endpoint,
          node: 'n1',
          zone: 'a',
          ready: true,
          serving: true,
          terminating: false,
          ...(i === 0 ? { zoneHints: ['a'] } : {}),
        },
        {
          endpoint: i === 0 ? '10.1.6.2:8080' : '[fd00:1:6::2]:8080',
          node: 'n2',
          zone: 'b',
          nodeHints: ['n2'],
          ready: false,
          serving: true,
          terminating: true,
        },
      ],
    },
  };
});
/** The sticky Service as the API lists it: PreferSameZone, which n1's rules do not keep (they hold all three). */
const stickyApi = {
  ...sticky([A, B, C]),
  affinity: { mode: 'ClientIP' as const, timeoutSeconds: 10, source: 'k8s' as const },
  topology: {
    policy: 'Cluster' as const,
    distribution: 'PreferSameZone',
    endpoints: [
      { endpoint: A, node: 'n1', zone: 'a', zoneHints: ['a'], ready: true, serving: true, terminating: false },
      { endpoint: B, node: 'n2', zone: 'b', zoneHints: ['b'], ready: true, serving: true, terminating: false },
      { endpoint: C, node: 'n2', zone: 'b', zoneHints: ['b'], ready: true, serving: true, terminating: false },
    ],
  },
};

function dnat(ts: number, node: string, client: string, service: string, backend: string, ctId = `${ts}`): StickyEvent {
  return dnatEvent({
    ts,
    node,
    proto: service === STUN ? 'udp' : 'tcp',
    client,
    service,
    backend,
    ctId,
    serviceName: 'named by the agent',
    backendPod: 'pod by the agent',
  });
}

/**
 * Every event type, and selections that give every verdict and feature: a held pair, a
 * violation nothing explains (unknown), one an eviction explains (listFull), one a full nftables affinity set
 * explains (setFull, with the sets' fill on that node), a forced
 * re-pick, an expired pair that moved, a client diverging across nodes (through one
 * address, and through two NodePort addresses), a UDP entry replaced with a new backend
 * and a new reflective address, lost events, a node gap and a node still down.
 */
export const events: StickyEvent[] = [
  {
    type: 'catalog',
    ts: T0,
    node: 'n1',
    proxyMode: 'iptables',
    services: [sticky([A, B, C]), edge(EDGE1), stun, empty],
  },
  { type: 'catalog', ts: T0, node: 'n2', proxyMode: 'nftables', services: [sticky([A, B, C]), edge(EDGE2)] },
  {
    type: 'catalog',
    ts: T0,
    node: CLUSTER_NODE,
    services: [{ ...edge(EDGE1), affinity: { ...edge(EDGE1).affinity, source: 'k8s' } }, stickyApi, ...cart],
    nodes: [{ name: 'n1', zone: 'a' }, { name: 'n2', zone: 'b' }, { name: 'n3' }],
  },
  dnat(T0 + 1 * S, 'n1', '10.0.1.1:40000', STICKY, A),
  dnat(T0 + 1 * S, 'n1', '10.0.1.2:40000', STICKY, A),
  dnat(T0 + 1 * S, 'n1', '10.0.1.3:40000', STICKY, A),
  dnat(T0 + 1 * S, 'n1', '10.0.1.4:40000', STICKY, C),
  dnat(T0 + 1 * S, 'n1', '10.0.1.5:40000', EDGE1, A),
  dnat(T0 + 1 * S, 'n2', '10.0.1.5:40001', EDGE2, B),
  dnat(T0 + 1 * S, 'n1', '10.0.1.6:5000', STUN, UA, 'u1'),
  {
    type: 'snat',
    ts: T0 + 1 * S,
    node: 'n1',
    proto: 'udp',
    client: '10.0.1.6:5000',
    service: STUN,
    backend: UA,
    hook: 'postrouting',
    ctId: 'u1',
    snat: '10.1.1.1:6000',
  },
  {
    type: 'insert',
    ts: T0 + 1 * S,
    node: 'n1',
    proto: 'udp',
    client: '10.0.1.6:5000',
    service: STUN,
    backend: UA,
    hook: 'postrouting',
    ctId: 'u1',
  },
  dnat(T0 + 1 * S, 'n2', '10.0.1.7:40000', STICKY, C),
  {
    type: 'evicted',
    ts: T0 + 1.25 * S,
    since: T0 + 1 * S,
    node: 'n2',
    list: 'affinity-CCCCCCCC-lab/sticky/tcp/http__10.1.3.2/8080',
    endpoint: C,
    client: '10.0.1.7',
    capacity: 2,
    cause: 'setFull',
  },
  {
    type: 'affinitySets',
    ts: T0 + 1.25 * S,
    node: 'n2',
    sets: [
      {
        set: 'affinity-CCCCCCCC-lab/sticky/tcp/http__10.1.3.2/8080',
        service: `${STICKY}/tcp`,
        endpoint: C,
        elements: 2,
        size: 2,
      },
    ],
  },
  dnat(T0 + 1.5 * S, 'n2', '10.0.1.7:40001', STICKY, A),
  dnat(T0 + 2 * S, 'n1', '10.0.1.1:40001', STICKY, A),
  {
    type: 'evicted',
    ts: T0 + 2 * S,
    since: T0 + 1.5 * S,
    node: 'n1',
    list: 'KUBE-SEP-AAAA',
    endpoint: A,
    client: '10.0.1.2',
    capacity: 100,
  },
  dnat(T0 + 2.5 * S, 'n1', '10.0.1.2:40001', STICKY, C),
  dnat(T0 + 3 * S, 'n1', '10.0.1.1:40002', STICKY, B),
  dnat(T0 + 3.5 * S, 'n2', '10.0.1.1:40003', STICKY, C),
  { type: 'catalog', ts: T0 + 4 * S, node: 'n1', services: [sticky([A, B]), edge(EDGE1), stun, empty] },
  dnat(T0 + 5 * S, 'n1', '10.0.1.4:40001', STICKY, A),
  dnat(T0 + 6 * S, 'n1', '10.0.1.6:5000', STUN, UB, 'u2'),
  {
    type: 'snat',
    ts: T0 + 6 * S,
    node: 'n1',
    proto: 'udp',
    client: '10.0.1.6:5000',
    service: STUN,
    backend: UB,
    hook: 'postrouting',
    ctId: 'u2',
    snat: '10.1.1.1:6001',
  },
  { type: 'lost', ts: T0 + 7 * S, node: 'n1', count: 3 },
  { type: 'lost', ts: T0 + 7 * S, node: 'n1', count: 1, source: 'conntrack' },
  {
    type: 'open',
    ts: T0 + 7 * S,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.9:41000',
    service: STICKY,
    backend: B,
    tcpState: 'ESTABLISHED',
    start: T0 - 60 * S,
    seen: 'dump',
    origPackets: 10,
    origBytes: 1000,
    replyPackets: 8,
    replyBytes: 64000,
    serviceName: 'named by the agent',
    backendPod: 'pod by the agent',
  },
  { type: 'sweep', ts: T0 + 7 * S, node: 'n1', initial: true, entries: 40, open: 1, acct: true, micros: 900 },
  {
    type: 'traffic',
    ts: T0 + 8 * S,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.9:41000',
    service: STICKY,
    backend: B,
    tcpState: 'ESTABLISHED',
    origPackets: 12,
    origBytes: 1200,
    replyPackets: 9,
    replyBytes: 72000,
  },
  {
    type: 'close',
    ts: T0 + 9 * S,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.9:41000',
    service: STICKY,
    backend: B,
    seen: 'sweep',
    since: T0 + 8 * S,
  },
  {
    type: 'open',
    ts: T0 + 9 * S,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.8:41001',
    service: STICKY,
    backend: A,
    tcpState: 'ESTABLISHED',
    seen: 'sweep',
  },
  // A fourth endpoint joins while that connection is open: it predates the newest endpoint.
  {
    type: 'catalog',
    ts: T0 + 10 * S,
    node: 'n1',
    services: [sticky([A, B, C, '10.1.4.2:8080']), edge(EDGE1), stun, empty],
  },
  { type: 'counters', ts: T0 + 7 * S, node: 'n1', insertFailed: 1, drop: 2, earlyDrop: 3, entries: 40 },
  { type: 'rulesRead', ts: T0 + 7 * S, node: 'n3', readAt: T0 + 6 * S },
  { type: 'node', ts: T0 + 8 * S, node: 'n2', state: 'down', reason: 'stream from n2 failed: connection reset' },
  { type: 'node', ts: T0 + 9 * S, node: 'n2', state: 'up' },
  { type: 'node', ts: T0 + 12 * S, node: 'n2', state: 'down', reason: 'agent n2 ended the stream' },
  dnat(T0 + 14 * S, 'n1', '[fd00:0:1::5]:40000', '[fd00:96::50]:80', '[fd00:1:5::2]:8080'),
  dnat(T0 + 15 * S, 'n1', '10.0.1.3:40001', STICKY, B),
];
