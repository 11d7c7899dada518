// Raw helper output -> typed events. Pure and allocation-light: it runs at hundreds of thousands of records per second,
// so fields are read straight from the chunk and repeating addresses come from a cache.
import { EnvironmentError, InputError } from '../core/errors.js';
import { TCP_STATES, type ConnEvent, type FlowEvent, type StickyEvent } from '../core/event.js';
import {
  ADDR_PORT_OFFSET,
  ATTACH_KINDS,
  CONFIRM_FUNC,
  MODE_OF_KIND,
  type AttachMode,
  AF_INET,
  AF_INET6,
  ConnFlag,
  HOOKS,
  Off,
  RECORD_SIZE,
  RECORD_VERSION,
  RecordType,
  SweepFlag,
  protoName,
} from './record-layout.js';

const TWO_32 = 4294967296;

const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice: (this: Buffer, start: number, end: number) => string }
).latin1Slice;
/**
 * Where text is assembled as ASCII bytes (the longest: 16 hex digits, or "255.255.255.255:65535"), then read as one
 * flat string: cheaper than concatenating pieces, which leaves a string the encoder must flatten again.
 */
const scratch = Buffer.alloc(32);
/** The decimal digits of each byte value (up to 3 chars, then a count), for dotted quads. */
const decimal = (() => {
  const t = new Uint8Array(256 * 4);
  for (let b = 0; b < 256; b++) {
    const d = String(b);
    t[4 * b] = d.length;
    for (let i = 0; i < d.length; i++) t[4 * b + 1 + i] = d.charCodeAt(i);
  }
  return t;
})();
const hexDigits = new Uint8Array([...'0123456789abcdef'].map((c) => c.charCodeAt(0)));

/** Services and backends repeat from record to record: their text by IPv4 address and port, one slot per hash. */
const CACHE_BITS = 12;
const cachedIp = new Int32Array(1 << CACHE_BITS);
const cachedPort = new Int32Array(1 << CACHE_BITS).fill(-1);
const cachedText: string[] = new Array<string>(1 << CACHE_BITS).fill('');

function ipv6(buf: Buffer, o: number): string {
  // RFC 5952: lowercase, no leading zeros, the longest run (>= 2) of zero groups as "::"; IPv4-mapped addresses with
  // their IPv4 part dotted (section 5).
  if (buf.readUInt32BE(o) === 0 && buf.readUInt32BE(o + 4) === 0 && buf.readUInt32BE(o + 8) === 0xffff)
    return `::ffff:${buf[o + 12]}.${buf[o + 13]}.${buf[o + 14]}.${buf[o + 15]}`;
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (buf.readUInt16BE(o + 2 * i) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && buf.readUInt16BE(o + 2 * j) === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += buf.readUInt16BE(o + 2 * i).toString(16);
  }
  return s;
}

function ipv4Text(buf: Buffer, o: number, port: number): string {
  const t = decimal;
  let p = 0;
  for (let i = 0; i < 4; i++) {
    const d = 4 * buf[o + i]!;
    scratch[p] = t[d + 1]!;
    scratch[p + 1] = t[d + 2]!;
    scratch[p + 2] = t[d + 3]!;
    p += t[d]!;
    scratch[p++] = i < 3 ? 0x2e : 0x3a;
  }
  const digits = port >= 10000 ? 5 : port >= 1000 ? 4 : port >= 100 ? 3 : port >= 10 ? 2 : 1;
  for (let i = p + digits - 1; i >= p; i--) {
    scratch[i] = 0x30 + (port % 10);
    port = (port / 10) | 0;
  }
  return latin1Slice.call(scratch, 0, p + digits);
}

/** "ip:port" ("[v6]:port") of the ss_addr at offset o. */
function address(buf: Buffer, o: number, family: number): string {
  const port = (buf[o + ADDR_PORT_OFFSET]! << 8) | buf[o + ADDR_PORT_OFFSET + 1]!;
  if (family === AF_INET) return ipv4Text(buf, o, port);
  return `[${ipv6(buf, o)}]:${port}`;
}

/** As address(), from the cache where the same address was decoded before. */
function repeatingAddress(buf: Buffer, o: number, family: number): string {
  if (family !== AF_INET) return address(buf, o, family);
  const port = (buf[o + ADDR_PORT_OFFSET]! << 8) | buf[o + ADDR_PORT_OFFSET + 1]!;
  const ip = buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16) | (buf[o + 3]! << 24);
  const slot = Math.imul(ip ^ Math.imul(port, 0x9e3779b1), 0x85ebca6b) >>> (32 - CACHE_BITS);
  if (cachedIp[slot] === ip && cachedPort[slot] === port) return cachedText[slot]!;
  cachedIp[slot] = ip;
  cachedPort[slot] = port;
  const text = ipv4Text(buf, o, port);
  cachedText[slot] = text;
  return text;
}

/** The u64 at o (little-endian) as 16 hex digits. */
function hex64(buf: Buffer, o: number): string {
  for (let i = 0; i < 8; i++) {
    const b = buf[o + 7 - i]!;
    scratch[2 * i] = hexDigits[b >>> 4]!;
    scratch[2 * i + 1] = hexDigits[b & 15]!;
  }
  return latin1Slice.call(scratch, 0, 16);
}

function u64(buf: Buffer, o: number): number {
  return buf.readUInt32LE(o + 4) * TWO_32 + buf.readUInt32LE(o);
}

/** Decodes a stream of records that may arrive split across chunks at any byte. */
export class RecordDecoder {
  private readonly carry = Buffer.alloc(RECORD_SIZE);
  private carried = 0;
  private helloSeen = false;
  /** ATTACH records the HELLO announced and not yet decoded. */
  private attachDue = 0;
  private readonly attached: string[] = [];
  private mode: AttachMode | undefined;
  private monoHi = 0;
  private monoLo = 0;
  /** CLOCK_REALTIME of the HELLO, split into whole microseconds and leftover nanoseconds. */
  private baseUs = 0;
  private baseRemNs = 0;
  /** The latest SWEEP record's time: a connection a sweep finds gone ended after it. */
  private lastSweep: number | undefined;

  constructor(readonly node: string) {}

  /** True once the HELLO record (the helper is attached) and the ATTACH records it announced are decoded. */
  get started(): boolean {
    return this.helloSeen && this.attachDue === 0;
  }

  /**
   * Where the helper's programs are attached, e.g. "netfilter ipv4 prerouting prio -99 link 17" or
   * "kretprobe __nf_conntrack_confirm prog 31" (the first word is the attach mode's kind).
   */
  get attachPoints(): readonly string[] {
    return this.attached;
  }

  /** The attach mode the ATTACH records show (undefined before the first). */
  get attachMode(): AttachMode | undefined {
    return this.mode;
  }

  /** Bytes of an incomplete record held back for the next chunk. */
  get pending(): number {
    return this.carried;
  }

  decode(chunk: Buffer): StickyEvent[] {
    const out: StickyEvent[] = [];
    let at = 0;
    if (this.carried > 0) {
      const take = Math.min(RECORD_SIZE - this.carried, chunk.length);
      chunk.copy(this.carry, this.carried, 0, take);
      this.carried += take;
      at = take;
      if (this.carried < RECORD_SIZE) return out;
      this.record(this.carry, 0, out);
      this.carried = 0;
    }
    for (; at + RECORD_SIZE <= chunk.length; at += RECORD_SIZE) this.record(chunk, at, out);
    if (at < chunk.length) {
      chunk.copy(this.carry, 0, at);
      this.carried = chunk.length - at;
    }
    return out;
  }

  private wallMicros(buf: Buffer, o: number): number {
    const deltaNs = (buf.readUInt32LE(o + 4) - this.monoHi) * TWO_32 + (buf.readUInt32LE(o) - this.monoLo);
    return this.baseUs + Math.floor((this.baseRemNs + deltaNs) / 1000);
  }

  private hello(buf: Buffer, o: number): void {
    const version = u64(buf, o + Off.value + 16);
    if (version !== RECORD_VERSION) {
      throw new EnvironmentError(
        `failed to decode probe records: the helper writes record version ${version}, this stickyscope reads version ${RECORD_VERSION} (rebuild with 'npm run build')`,
      );
    }
    this.monoLo = buf.readUInt32LE(o + Off.value);
    this.monoHi = buf.readUInt32LE(o + Off.value + 4);
    const realtime = buf.readBigUInt64LE(o + Off.value + 8);
    this.baseUs = Number(realtime / 1000n);
    this.baseRemNs = Number(realtime % 1000n);
    this.attachDue = u64(buf, o + Off.value + 24);
    this.helloSeen = true;
  }

  private attach(buf: Buffer, o: number): void {
    const kind = ATTACH_KINDS[buf[o + Off.proto]!];
    if (kind === undefined) {
      throw new InputError(
        `failed to decode probe records: ATTACH record of kind ${buf[o + Off.proto]}; expected 0-${ATTACH_KINDS.length - 1}`,
      );
    }
    this.mode = MODE_OF_KIND[kind];
    this.attached.push(kind === 'netfilter' ? this.netfilterPoint(buf, o) : this.tracePoint(buf, o, kind));
    if (this.attachDue > 0) this.attachDue--;
  }

  private netfilterPoint(buf: Buffer, o: number): string {
    const pf = u64(buf, o + Off.value);
    const hook = HOOKS[u64(buf, o + Off.value + 8)];
    const family = pf === AF_INET ? 'ipv4' : pf === AF_INET6 ? 'ipv6' : undefined;
    if (!family || !hook) {
      throw new InputError(
        `failed to decode probe records: ATTACH record with pf ${pf}, hook ${u64(buf, o + Off.value + 8)}; expected pf 2 or 10, hook 0-4`,
      );
    }
    const priority = buf.readInt32LE(o + Off.value + 16); // the low half of a sign-extended s64
    return `netfilter ${family} ${hook} prio ${priority} link ${u64(buf, o + Off.value + 24)}`;
  }

  private tracePoint(buf: Buffer, o: number, kind: string): string {
    const link = u64(buf, o + Off.value + 24);
    return `${kind} ${CONFIRM_FUNC} prog ${u64(buf, o + Off.value + 16)}${link ? ` link ${link}` : ''}`;
  }

  private record(buf: Buffer, o: number, out: StickyEvent[]): void {
    const type = buf[o + Off.type]!;
    if (type === RecordType.hello) {
      this.hello(buf, o);
      return;
    }
    if (!this.helloSeen) {
      throw new InputError(
        `failed to decode probe records: expected a HELLO record (type ${RecordType.hello}) first, got type ${type}`,
      );
    }
    const ts = this.wallMicros(buf, o + Off.tsNs);
    const node = this.node;
    switch (type) {
      case RecordType.dnat:
      case RecordType.snat:
      case RecordType.insert:
        out.push(this.flow(buf, o, type, ts));
        return;
      case RecordType.lost:
        out.push({ type: 'lost', ts, node, count: u64(buf, o + Off.value) });
        return;
      case RecordType.attach:
        this.attach(buf, o);
        return;
      case RecordType.counters:
        out.push({
          type: 'counters',
          ts,
          node,
          insertFailed: u64(buf, o + Off.value),
          drop: u64(buf, o + Off.value + 8),
          earlyDrop: u64(buf, o + Off.value + 16),
          entries: u64(buf, o + Off.value + 24),
        });
        return;
      case RecordType.open:
      case RecordType.close:
      case RecordType.traffic:
        out.push(this.conn(buf, o, type, ts));
        return;
      case RecordType.ctLost:
        out.push({ type: 'lost', ts, node, count: u64(buf, o + Off.value), source: 'conntrack' });
        return;
      case RecordType.sweep: {
        const flags = u64(buf, o + Off.value + 24);
        const initial = (flags & SweepFlag.initial) !== 0;
        const acct = (flags & SweepFlag.acct) !== 0;
        const micros = Math.round(u64(buf, o + Off.value + 16) / 1000);
        out.push({
          type: 'sweep',
          ts,
          node,
          initial,
          entries: u64(buf, o + Off.value),
          open: u64(buf, o + Off.value + 8),
          acct,
          micros,
        });
        this.lastSweep = ts;
        return;
      }
      default:
        throw new InputError(
          `failed to decode probe records: unknown record type ${type} at a record boundary (layout mismatch with bpf/record.h?)`,
        );
    }
  }

  private flow(buf: Buffer, o: number, type: number, ts: number): FlowEvent {
    const family = buf[o + Off.family]!;
    const protoNum = buf[o + Off.proto]!;
    const proto = protoName(protoNum);
    const hook = HOOKS[buf[o + Off.hook]!];
    if ((family !== AF_INET && family !== AF_INET6) || !proto || !hook) {
      throw new InputError(
        `failed to decode probe records: flow record with family ${family}, proto ${protoNum}, hook ${buf[o + Off.hook]}; expected IPv4/IPv6, tcp/udp/sctp, hook 0-4`,
      );
    }
    const node = this.node;
    const client = address(buf, o + Off.origSrc, family);
    const service = repeatingAddress(buf, o + Off.origDst, family);
    const backend = repeatingAddress(buf, o + Off.replySrc, family);
    const ctId = hex64(buf, o + Off.ctId);
    if (type === RecordType.dnat) return { type: 'dnat', ts, node, proto, client, service, backend, hook, ctId };
    if (type === RecordType.insert) return { type: 'insert', ts, node, proto, client, service, backend, hook, ctId };
    return {
      type: 'snat',
      ts,
      node,
      proto,
      client,
      service,
      backend,
      hook,
      ctId,
      snat: address(buf, o + Off.replyDst, family),
    };
  }

  /** An OPEN, CLOSE or TRAFFIC record: a DNATed conntrack entry as the helper read it over netlink. */
  private conn(buf: Buffer, o: number, type: number, ts: number): ConnEvent {
    const family = buf[o + Off.family]!;
    const protoNum = buf[o + Off.proto]!;
    const proto = protoName(protoNum);
    const stateNum = buf[o + Off.tcpState]!;
    const state = TCP_STATES[stateNum];
    if ((family !== AF_INET && family !== AF_INET6) || !proto || !state) {
      throw new InputError(
        `failed to decode probe records: connection record with family ${family}, proto ${protoNum}, tcp state ${stateNum}; expected IPv4/IPv6, tcp/udp/sctp, state 0-${TCP_STATES.length - 1}`,
      );
    }
    const base = {
      ts,
      node: this.node,
      proto,
      client: address(buf, o + Off.origSrc, family),
      service: repeatingAddress(buf, o + Off.origDst, family),
      backend: repeatingAddress(buf, o + Off.replySrc, family),
    };
    const flags = buf.readUInt32LE(o + Off.flags);
    const bySweep = (flags & ConnFlag.sweep) !== 0;
    const e: ConnEvent =
      type === RecordType.traffic
        ? { type: 'traffic', ...base, origPackets: 0, origBytes: 0, replyPackets: 0, replyBytes: 0 }
        : type === RecordType.open
          ? { type: 'open', ...base, seen: bySweep ? 'sweep' : 'dump' }
          : { type: 'close', ...base, seen: bySweep ? 'sweep' : 'destroy' };
    if (proto === 'tcp') e.tcpState = state;
    const startNs = buf.readBigUInt64LE(o + Off.startNs);
    if (startNs !== 0n) e.start = Math.min(ts, Number(startNs / 1000n));
    if (e.type === 'close' && bySweep && this.lastSweep !== undefined) e.since = this.lastSweep;
    if ((flags & ConnFlag.counts) !== 0) {
      e.origPackets = u64(buf, o + Off.value);
      e.origBytes = u64(buf, o + Off.value + 8);
      e.replyPackets = u64(buf, o + Off.value + 16);
      e.replyBytes = u64(buf, o + Off.value + 24);
    }
    return e;
  }
}
