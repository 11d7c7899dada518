// Raw helper output -> typed events. Pure and allocation-light: it runs at hundreds of
// thousands of records per second, so fields are read straight from the chunk and the
// only per-record allocations are the event object and its strings.
import { EnvironmentError, InputError } from '../cli/errors.js';
import type { FlowEvent, StickyEvent } from './event.js';
import { ADDR_PORT_OFFSET, AF_INET, AF_INET6, HOOKS, Off, RECORD_SIZE, RECORD_VERSION, RecordType, protoName } from './record-layout.js';

const TWO_32 = 4294967296;

function ipv6(buf: Buffer, o: number): string {
  // RFC 5952: lowercase, no leading zeros, the longest run (>= 2) of zero groups as "::".
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

/** "ip:port" ("[v6]:port") of the ss_addr at offset o. */
function address(buf: Buffer, o: number, family: number): string {
  const port = (buf[o + ADDR_PORT_OFFSET]! << 8) | buf[o + ADDR_PORT_OFFSET + 1]!;
  if (family === AF_INET) return `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}:${port}`;
  return `[${ipv6(buf, o)}]:${port}`;
}

function hex64(buf: Buffer, o: number): string {
  return buf.readUInt32LE(o + 4).toString(16).padStart(8, '0') + buf.readUInt32LE(o).toString(16).padStart(8, '0');
}

function u64(buf: Buffer, o: number): number {
  return buf.readUInt32LE(o + 4) * TWO_32 + buf.readUInt32LE(o);
}

/** Decodes a stream of records that may arrive split across chunks at any byte. */
export class RecordDecoder {
  private readonly carry = Buffer.alloc(RECORD_SIZE);
  private carried = 0;
  private helloSeen = false;
  private monoHi = 0;
  private monoLo = 0;
  /** CLOCK_REALTIME of the HELLO, split into whole microseconds and leftover nanoseconds. */
  private baseUs = 0;
  private baseRemNs = 0;

  constructor(private readonly node: string) {}

  /** True once the HELLO record (the helper is attached) has been decoded. */
  get started(): boolean {
    return this.helloSeen;
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
    this.helloSeen = true;
  }

  private record(buf: Buffer, o: number, out: StickyEvent[]): void {
    const type = buf[o + Off.type]!;
    if (type === RecordType.hello) return this.hello(buf, o);
    if (!this.helloSeen) {
      throw new InputError(`failed to decode probe records: expected a HELLO record (type ${RecordType.hello}) first, got type ${type}`);
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
      case RecordType.counters:
        out.push({
          type: 'counters', ts, node,
          insertFailed: u64(buf, o + Off.value),
          drop: u64(buf, o + Off.value + 8),
          earlyDrop: u64(buf, o + Off.value + 16),
          entries: u64(buf, o + Off.value + 24),
        });
        return;
      default:
        throw new InputError(`failed to decode probe records: unknown record type ${type} at a record boundary (layout mismatch with bpf/record.h?)`);
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
    const service = address(buf, o + Off.origDst, family);
    const backend = address(buf, o + Off.replySrc, family);
    const ctId = hex64(buf, o + Off.ctId);
    if (type === RecordType.dnat) return { type: 'dnat', ts, node, proto, client, service, backend, hook, ctId };
    if (type === RecordType.insert) return { type: 'insert', ts, node, proto, client, service, backend, hook, ctId };
    return { type: 'snat', ts, node, proto, client, service, backend, hook, ctId, snat: address(buf, o + Off.replyDst, family) };
  }
}
