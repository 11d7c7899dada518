// Test data: the one builder of dnat events. A test names the fields it is about; every other field has a plain,
// valid value here, so a change to the event's shape is made once.
import type { DnatEvent } from '../../src/core/event.js';

/** 2026-11-24, in microseconds: a plausible wall-clock time for events that need one. */
const T0 = 1_795_435_865_000_000;

/** A dnat event: a TCP selection of 10.96.0.10:80 on node n1, with `over` on top (ctId defaults to the ts). */
export function dnatEvent(over: Partial<DnatEvent> = {}): DnatEvent {
  const ts = over.ts ?? T0;
  return {
    type: 'dnat',
    ts,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.0.1:40000',
    service: '10.96.0.10:80',
    backend: '10.1.0.2:8080',
    hook: 'prerouting',
    ctId: String(ts),
    ...over,
  };
}
