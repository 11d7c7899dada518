// What the header and end frames of a trace file say, as JSON: enough to read one
// rotated segment on its own (the rules in effect when it starts) and to tell a clean
// end from an interrupted recording.
import { readFileSync } from 'node:fs';
import type { CatalogEvent } from '../core/event.js';

export interface TraceHeader {
  tool: 'stickyscope';
  toolVersion: string;
  /** Shared by every segment of one rotated recording. */
  recordingId: string;
  /** 0 for FILE, k for FILE.k. */
  segment: number;
  /** Microseconds since the epoch. */
  startTime: number;
  nodes: string[];
  /** Agent addresses recorded from, where the trace came from agents. */
  agents: string[];
  /**
   * The latest catalog event of each node when this segment starts: the rules and
   * endpoints that enrich its events. Not repeated among the segment's frames.
   */
  catalogs: CatalogEvent[];
}

export interface TraceEnd {
  /** Microseconds since the epoch. */
  endTime: number;
  /** Events and lost-event count in this segment. */
  events: number;
  /** Every node seen up to the end of this segment. */
  nodes: string[];
  lostEvents: number;
  /** True when the recording goes on in the next segment (FILE.k+1). */
  continued: boolean;
}

export const toolVersion: string = (() => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
})();

export function encodeJson(value: TraceHeader | TraceEnd): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function decodeHeader(payload: Uint8Array): TraceHeader {
  const h = JSON.parse(Buffer.from(payload).toString('utf8')) as Partial<TraceHeader>;
  if (
    h.tool !== 'stickyscope' ||
    typeof h.startTime !== 'number' ||
    !Array.isArray(h.nodes) ||
    !Array.isArray(h.catalogs)
  ) {
    throw new Error(`header frame lacks tool, startTime, nodes or catalogs: ${JSON.stringify(h).slice(0, 120)}`);
  }
  return { toolVersion: 'unknown', recordingId: '', segment: 0, agents: [], ...h } as TraceHeader;
}

export function decodeEnd(payload: Uint8Array): TraceEnd {
  const e = JSON.parse(Buffer.from(payload).toString('utf8')) as Partial<TraceEnd>;
  if (typeof e.endTime !== 'number' || typeof e.events !== 'number') {
    throw new Error(`end frame lacks endTime or events: ${JSON.stringify(e).slice(0, 120)}`);
  }
  return { lostEvents: 0, continued: false, nodes: [], ...e } as TraceEnd;
}

/** FILE for segment 0, FILE.k after it. */
export function segmentPath(base: string, segment: number): string {
  return segment === 0 ? base : `${base}.${segment}`;
}
