// The conntrack source's events (open, traffic, close, sweep) folded into the reducer's live connections. Any of
// them says the node's helper reads conntrack, so from then on its `dnat`s open connections too (live-conns.ts).
import type { ConnEvent, SweepEvent } from '../core/event.js';
import type { AggregatorState } from './state.js';

export function applyLive(state: AggregatorState, ev: ConnEvent | SweepEvent): void {
  const node = state.roster.indexOf(ev.node);
  const live = state.live;
  live.source(node, ev.ts);
  switch (ev.type) {
    case 'sweep':
      live.swept(ev.ts, node, ev.initial, ev.acct, ev.micros);
      return;
    case 'close':
      // A close of a Service never seen ends nothing, and must not create the Service.
      if (state.services.has(ev.service, ev.proto))
        live.closed(ev.ts, node, state.services.of(ev.service, ev.proto), ev.client, totalOf(ev));
      return;
    default: {
      if (state.overServices(ev.service, ev.proto)) return;
      const svc = state.services.of(ev.service, ev.proto);
      live.opened(ev.ts, node, svc, ev.client, state.clients.keyOf(ev.client), ev.backend, ev.start, totalOf(ev));
    }
  }
}

/** Bytes both ways of an event's counters; NaN when it has none. */
function totalOf(ev: { origBytes?: number; replyBytes?: number }): number {
  return ev.origBytes === undefined || ev.replyBytes === undefined ? Number.NaN : ev.origBytes + ev.replyBytes;
}
