// A stand-in for the probe in agent tests: an EventEmitter whose batches the test writes.
import { EventEmitter } from 'node:events';
import type { DnatEvent, StickyEvent } from '../../src/core/event.js';
import { dnatEvent } from './events.js';

export class FakeSource extends EventEmitter {
  emitEvents(events: StickyEvent[]): void {
    this.emit('events', events);
  }
}

/** A dnat event numbered `i`, so a test can tell exactly which ones arrived. */
export function dnat(i: number, node: string, over: Partial<DnatEvent> = {}): DnatEvent {
  return dnatEvent({
    ts: 1_795_435_865_000_000 + i,
    node,
    client: `10.0.${(i >> 8) & 255}.${i & 255}:${40000 + (i % 20000)}`,
    backend: `10.1.${i % 3}.2:8080`,
    ctId: i.toString(16),
    ...over,
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
