// The export format of docs/design.md: one flat JSON object per event, field order fixed
// so that `trace`, `export` and reports print the same shape.
import { isoMicros, parseIsoMicros, type StickyEvent } from './event.js';
import { InputError } from './errors.js';
import { printable, printableJson } from './text.js';

export function eventToJson(e: StickyEvent): Record<string, unknown> {
  const { type, ts, node, ...rest } = e;
  const out: Record<string, unknown> = { type, ts: isoMicros(ts), node, ...rest };
  if (e.type === 'evicted' && e.since !== undefined) out.since = isoMicros(e.since);
  if (e.type === 'rulesRead') out.readAt = isoMicros(e.readAt);
  return out;
}

export function eventFromJson(o: Record<string, unknown>): StickyEvent {
  if (typeof o.type !== 'string' || typeof o.ts !== 'string' || typeof o.node !== 'string') {
    throw new InputError(`an event needs string fields type, ts and node; got ${JSON.stringify(o).slice(0, 120)}`);
  }
  const e: Record<string, unknown> = { ...o, ts: parseIsoMicros(o.ts) };
  if (o.type === 'evicted' && typeof o.since === 'string') e.since = parseIsoMicros(o.since);
  if (o.type === 'rulesRead' && typeof o.readAt === 'string') e.readAt = parseIsoMicros(o.readAt);
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
      return `${time} LOST   ${e.count} events (ring buffer or subscriber buffer full)`;
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
