// Events into the Parquet export's columns, a row group at a time. Flows also get what the catalogs said about their
// Service at that moment (name, affinity, the backend's pod), the way the report judges them: the node's own rules,
// with the Kubernetes API's name, affinity and pods where the API's catalog lists the Service.
import {
  CLUSTER_NODE,
  hostOf,
  type ConnEvent,
  type FlowEvent,
  type ServiceInfo,
  type StickyEvent,
} from '../core/event.js';
import { COLUMNS, type ColumnName } from './parquet-columns.js';

const INDEX = new Map<string, number>(COLUMNS.map((c, i) => [c.name, i]));
const col = (name: ColumnName): number => INDEX.get(name)!;
const C = {
  seq: col('seq'),
  type: col('type'),
  ts: col('ts'),
  node: col('node'),
  trace: col('trace'),
  proto: col('proto'),
  client: col('client'),
  clientIp: col('clientIp'),
  clientPort: col('clientPort'),
  service: col('service'),
  serviceKey: col('serviceKey'),
  backend: col('backend'),
  hook: col('hook'),
  ctId: col('ctId'),
  snat: col('snat'),
  serviceName: col('serviceName'),
  svcNamespace: col('svcNamespace'),
  svcName: col('svcName'),
  svcPortName: col('svcPortName'),
  backendPod: col('backendPod'),
  affinityMode: col('affinityMode'),
  affinityTimeoutSeconds: col('affinityTimeoutSeconds'),
  affinitySource: col('affinitySource'),
  count: col('count'),
  insertFailed: col('insertFailed'),
  drop: col('drop'),
  earlyDrop: col('earlyDrop'),
  entries: col('entries'),
  proxyMode: col('proxyMode'),
  services: col('services'),
  since: col('since'),
  list: col('list'),
  endpoint: col('endpoint'),
  capacity: col('capacity'),
  cause: col('cause'),
  sets: col('sets'),
  state: col('state'),
  reason: col('reason'),
  readAt: col('readAt'),
  source: col('source'),
  tcpState: col('tcpState'),
  start: col('start'),
  seen: col('seen'),
  origPackets: col('origPackets'),
  origBytes: col('origBytes'),
  replyPackets: col('replyPackets'),
  replyBytes: col('replyBytes'),
  initial: col('initial'),
  open: col('open'),
  acct: col('acct'),
  micros: col('micros'),
};

/** The latest catalog of each node, and the API's, by Service key ("ip:port/proto"). */
class CatalogIndex {
  private readonly byNode = new Map<string, Map<string, ServiceInfo>>();
  private cluster = new Map<string, ServiceInfo>();

  apply(node: string, services: ServiceInfo[]): void {
    const m = new Map(services.map((s) => [s.service, s]));
    if (node === CLUSTER_NODE) this.cluster = m;
    else this.byNode.set(node, m);
  }

  lookup(node: string, key: string): { own?: ServiceInfo; api?: ServiceInfo } {
    return { own: this.byNode.get(node)?.get(key), api: this.cluster.get(key) };
  }
}

/** "ns/name:port" as its three parts; what is missing is null. */
function nameParts(full: string): [string | null, string | null, string | null] {
  const slash = full.indexOf('/');
  const colon = full.lastIndexOf(':');
  const ns = slash < 0 ? null : full.slice(0, slash);
  const name = full.slice(slash + 1, colon > slash ? colon : undefined);
  return [ns, name === '' ? null : name, colon > slash ? full.slice(colon + 1) : null];
}

const portOf = (addr: string): number | null => {
  const n = Number(addr.slice(addr.lastIndexOf(':') + 1));
  return Number.isInteger(n) ? n : null;
};

/** Rows waiting to be written: one array per column, in COLUMNS order. */
export class RowBuffer {
  length = 0;
  columns: unknown[][] = COLUMNS.map(() => []);
  private readonly catalogs = new CatalogIndex();
  /** One row's values, reused: an array per event was a third of the export's garbage. */
  private readonly row: unknown[] = new Array(COLUMNS.length).fill(null);

  add(e: StickyEvent, seq: number, trace: string): void {
    const row = this.row.fill(null);
    row[C.seq] = BigInt(seq);
    row[C.type] = e.type;
    row[C.ts] = Math.round(e.ts);
    row[C.node] = e.node;
    row[C.trace] = trace;
    switch (e.type) {
      case 'dnat':
      case 'snat':
      case 'insert':
        this.connection(row, e);
        row[C.hook] = e.hook;
        row[C.ctId] = e.ctId;
        if (e.type === 'snat') row[C.snat] = e.snat;
        break;
      case 'open':
      case 'close':
      case 'traffic':
        this.connection(row, e);
        this.liveFields(row, e);
        break;
      case 'sweep':
        row[C.initial] = e.initial;
        row[C.entries] = BigInt(e.entries);
        row[C.open] = BigInt(e.open);
        row[C.acct] = e.acct;
        row[C.micros] = BigInt(e.micros);
        break;
      case 'lost':
        row[C.count] = BigInt(e.count);
        row[C.source] = e.source ?? null;
        break;
      case 'counters':
        row[C.insertFailed] = BigInt(e.insertFailed);
        row[C.drop] = BigInt(e.drop);
        row[C.earlyDrop] = BigInt(e.earlyDrop);
        row[C.entries] = BigInt(e.entries);
        break;
      case 'catalog':
        this.catalogs.apply(e.node, e.services);
        row[C.proxyMode] = e.proxyMode ?? null;
        row[C.services] = e.services;
        break;
      case 'evicted':
        row[C.since] = e.since === undefined ? null : Math.round(e.since);
        row[C.list] = e.list;
        row[C.endpoint] = e.endpoint;
        row[C.clientIp] = e.client;
        row[C.capacity] = BigInt(e.capacity);
        row[C.cause] = e.cause ?? null;
        break;
      case 'affinitySets':
        row[C.sets] = e.sets;
        break;
      case 'rulesRead':
        row[C.readAt] = Math.round(e.readAt);
        break;
      case 'node':
        row[C.state] = e.state;
        row[C.reason] = e.reason ?? null;
        break;
    }
    const cols = this.columns;
    for (let i = 0; i < row.length; i++) cols[i]!.push(row[i]);
    this.length++;
  }

  /** The columns a flow and a live connection share: who, to which Service and backend, as the catalogs name them. */
  private connection(row: unknown[], e: FlowEvent | ConnEvent): void {
    const key = `${e.service}/${e.proto}`;
    row[C.proto] = e.proto;
    row[C.client] = e.client;
    row[C.clientIp] = hostOf(e.client);
    row[C.clientPort] = portOf(e.client);
    row[C.service] = e.service;
    row[C.serviceKey] = key;
    row[C.backend] = e.backend;
    const { own, api } = this.catalogs.lookup(e.node, key);
    const name = e.serviceName ?? api?.name ?? own?.name ?? null;
    row[C.serviceName] = name;
    if (name !== null) [row[C.svcNamespace], row[C.svcName], row[C.svcPortName]] = nameParts(name);
    row[C.backendPod] = e.backendPod ?? (api ?? own)?.pods?.[e.backend] ?? null;
    const affinity = (api ?? own)?.affinity;
    if (affinity) {
      row[C.affinityMode] = affinity.mode;
      row[C.affinityTimeoutSeconds] = affinity.timeoutSeconds;
      row[C.affinitySource] = affinity.source;
    }
  }

  /** What only open, close and traffic carry: state, start, counters, how it was seen. */
  private liveFields(row: unknown[], e: ConnEvent): void {
    row[C.tcpState] = e.tcpState ?? null;
    row[C.start] = e.start === undefined ? null : Math.round(e.start);
    if (e.type !== 'traffic') row[C.seen] = e.seen;
    if (e.type === 'close' && e.since !== undefined) row[C.since] = Math.round(e.since);
    if (e.origBytes !== undefined) {
      row[C.origPackets] = BigInt(e.origPackets!);
      row[C.origBytes] = BigInt(e.origBytes);
      row[C.replyPackets] = BigInt(e.replyPackets!);
      row[C.replyBytes] = BigInt(e.replyBytes!);
    }
  }

  /** Hands over the rows so far and starts empty (the catalogs are kept: later flows still need them). */
  take(): unknown[][] {
    const out = this.columns;
    this.columns = COLUMNS.map(() => []);
    this.length = 0;
    return out;
  }
}
