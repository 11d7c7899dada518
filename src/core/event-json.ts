// The export format of docs/design.md: one flat JSON object per event, field order fixed
// so that `trace`, `export` and reports print the same shape.
import { isoMicros, parseIsoMicros, type ConnEvent, type StickyEvent } from './event.js';
import { InputError } from './errors.js';
import { printable, printableJson } from './text.js';

export function eventToJson(e: StickyEvent): Record<string, unknown> {
  const { type, ts, node, ...rest } = e;
  const out: Record<string, unknown> = { type, ts: isoMicros(ts), node, ...rest };
  if (e.type === 'rulesRead') out.readAt = isoMicros(e.readAt);
  if ((e.type === 'evicted' || e.type === 'close') && e.since !== undefined) out.since = isoMicros(e.since);
  if ((e.type === 'open' || e.type === 'close' || e.type === 'traffic') && e.start !== undefined)
    out.start = isoMicros(e.start);
  return out;
}

export function eventFromJson(o: Record<string, unknown>): StickyEvent {
  if (typeof o.type !== 'string' || typeof o.ts !== 'string' || typeof o.node !== 'string') {
    throw new InputError(`an event needs string fields type, ts and node; got ${JSON.stringify(o).slice(0, 120)}`);
  }
  const e: Record<string, unknown> = { ...o, ts: parseIsoMicros(o.ts) };
  if (o.type === 'rulesRead' && typeof o.readAt === 'string') e.readAt = parseIsoMicros(o.readAt);
  if ((o.type === 'evicted' || o.type === 'close') && typeof o.since === 'string') e.since = parseIsoMicros(o.since);
  if ((o.type === 'open' || o.type === 'close' || o.type === 'traffic') && typeof o.start === 'string')
    e.start = parseIsoMicros(o.start);
  return e as unknown as StickyEvent;
}

/** One event as one line of JSON, nothing in it a terminal would act on. */
export function eventToJsonLine(e: StickyEvent): string {
  return printableJson(JSON.stringify(eventToJson(e)));
}

/** One human line, like `conntrack -E`: time, kind, proto, client -> service => backend. */
export function eventToText(e: StickyEvent): string {
  // Every field but the time may come from outside (a trace file, an agent, enrichment).
  return printable(textOf(e));
}

function textOf(e: StickyEvent): string {
  const time = isoMicros(e.ts).slice(11, 26);
  switch (e.type) {
    case 'dnat':
      return `${time} dnat   ${e.proto.padEnd(4)} ${e.client} -> ${e.service} => ${e.backend} [${e.hook}]${e.serviceName ? ' ' + e.serviceName : ''}`;
    case 'snat':
      return `${time} snat   ${e.proto.padEnd(4)} ${e.client} -> ${e.service} => ${e.backend} seen as ${e.snat}`;
    case 'insert':
      return `${time} insert ${e.proto.padEnd(4)} ${e.client} -> ${e.service} reply from ${e.backend} [${e.hook}]`;
    case 'lost':
      return e.source === 'conntrack'
        ? `${time} LOST   ${e.count} conntrack event socket overruns (closes recovered by the next sweep)`
        : `${time} LOST   ${e.count} events (ring buffer or subscriber buffer full)`;
    case 'open':
    case 'close':
    case 'traffic':
      return connText(time, e);
    case 'sweep':
      return `${time} sweep  ${e.initial ? 'initial dump' : 'conntrack'} entries=${e.entries} open=${e.open} in ${(e.micros / 1000).toFixed(1)} ms${e.acct ? '' : ' (no byte counters: nf_conntrack_acct is off)'}`;
    case 'counters':
      return `${time} conntrack entries=${e.entries} insert_failed=${e.insertFailed} drop=${e.drop} early_drop=${e.earlyDrop}`;
    case 'catalog':
      return `${time} rules  ${e.services.length} services`;
    case 'affinitySets':
      return `${time} sets   ${e.sets.map((s) => `${s.endpoint} ${s.elements}/${s.size}`).join(', ')}`;
    case 'evicted':
      if (e.cause === 'setFull')
        return `${time} unpin  ${e.client} not added to full set ${e.list} (${e.endpoint}, ${e.capacity} entries)`;
      return `${time} evict  ${e.client} dropped from full list ${e.list} (${e.endpoint}, ${e.capacity} entries)${e.since !== undefined ? ` since ${isoMicros(e.since).slice(11, 26)}` : ''}`;
    case 'rulesRead':
      return `${time} read   rules as of ${isoMicros(e.readAt).slice(11, 26)}`;
    case 'node':
      return `${time} node   ${e.node} ${e.state}${e.reason ? ': ' + e.reason : ''}`;
  }
}

/** `open`, `close`, `traffic`: the connection, then what is known of its age, state and counters. */
function connText(time: string, e: ConnEvent): string {
  const head = `${time} ${e.type.padEnd(6)} ${e.proto.padEnd(4)} ${e.client} -> ${e.service} => ${e.backend}`;
  const parts: string[] = [];
  if (e.tcpState !== undefined) parts.push(e.tcpState);
  if (e.type === 'close') {
    parts.push(e.start === undefined ? 'lasted unknown' : `lasted ${seconds(e.ts - e.start)}`);
    if (e.seen === 'sweep') parts.push('seen by sweep');
  } else if (e.type === 'open') {
    parts.push(e.start === undefined ? 'age unknown' : `age ${seconds(e.ts - e.start)}`);
    if (e.seen === 'sweep') parts.push('found by sweep');
  }
  if (e.origBytes !== undefined)
    parts.push(`out ${e.origPackets}p/${e.origBytes}B in ${e.replyPackets}p/${e.replyBytes}B`);
  return `${head} [${parts.join(', ')}]${e.serviceName ? ' ' + e.serviceName : ''}`;
}

function seconds(micros: number): string {
  return `${(Math.max(0, micros) / 1e6).toFixed(1)}s`;
}
