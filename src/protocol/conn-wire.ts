// open, close and traffic events to and from the wire's Conn message (proto/stickyscope.proto); wire.ts does the rest.
import { TCP_STATES, type ConnEvent, type StickyEvent, type TcpState } from '../core/event.js';
import type { stickyscope } from './generated/stickyscope.js';
import { protoByNumber, protoNumber } from './tags.js';

type WireConn = stickyscope.v1.Conn.$Properties;

/** uint64 fields decode as Long objects (long.js is installed); counters fit a double. */
type Uint64 = number | { toNumber(): number };
const num = (v: Uint64 | undefined | null): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

export function connToWire(e: ConnEvent): WireConn {
  const c: WireConn = { proto: protoNumber[e.proto], client: e.client, service: e.service, backend: e.backend };
  if (e.tcpState !== undefined) c.tcpState = e.tcpState;
  if (e.start !== undefined) c.start = e.start;
  if (e.origBytes !== undefined)
    c.counts = {
      origPackets: e.origPackets,
      origBytes: e.origBytes,
      replyPackets: e.replyPackets,
      replyBytes: e.replyBytes,
    };
  if (e.type !== 'traffic') c.seen = e.seen;
  if (e.type === 'close' && e.since !== undefined) c.since = e.since;
  if (e.serviceName !== undefined) c.serviceName = e.serviceName;
  if (e.backendPod !== undefined) c.backendPod = e.backendPod;
  return c;
}

const tcpStates: ReadonlySet<string> = new Set(TCP_STATES);

/** The wire's Conn as an event; a `seen` or `tcp_state` this version does not know is refused (a newer agent's). */
export function connFromWire(type: ConnEvent['type'], ts: number, node: string, c: WireConn): StickyEvent {
  const proto = protoByNumber[c.proto ?? 0];
  const state = c.tcpState ?? '';
  if (proto === undefined || (state !== '' && !tcpStates.has(state)))
    throw new Error(`failed to decode a ${type} event: proto ${c.proto} / tcp state "${state}" are not known values`);
  const base = { ts, node, proto, client: c.client ?? '', service: c.service ?? '', backend: c.backend ?? '' };
  const e = (
    type === 'traffic'
      ? { type, ...base, origPackets: 0, origBytes: 0, replyPackets: 0, replyBytes: 0 }
      : { type, ...base, seen: c.seen ?? '' }
  ) as ConnEvent;
  if (type !== 'traffic' && !(type === 'open' ? ['dump', 'sweep'] : ['destroy', 'sweep']).includes(c.seen ?? ''))
    throw new Error(`failed to decode a ${type} event: seen "${c.seen}" is not a known value`);
  if (state !== '') e.tcpState = state as TcpState;
  if (c.start) e.start = c.start;
  if (c.counts) {
    e.origPackets = num(c.counts.origPackets);
    e.origBytes = num(c.counts.origBytes);
    e.replyPackets = num(c.counts.replyPackets);
    e.replyBytes = num(c.counts.replyBytes);
  }
  if (e.type === 'close' && c.since) e.since = c.since;
  if (c.serviceName) e.serviceName = c.serviceName;
  if (c.backendPod) e.backendPod = c.backendPod;
  return e;
}
