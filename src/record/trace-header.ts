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

/**
 * The header frame's JSON, checked field by field so that nothing later trips on it.
 * The catalogs are left as found: the reader checks each one as an event (validate.ts),
 * so a bad one is counted among the rejected events rather than losing the header.
 */
export function decodeHeader(payload: Uint8Array): Omit<TraceHeader, 'catalogs'> & { catalogs: unknown[] } {
  const h = parseObject(payload, 'header');
  const problem =
    h.tool !== 'stickyscope'
      ? `tool should be "stickyscope"; got ${show(h.tool)}`
      : typeof h.startTime !== 'number' || !Number.isFinite(h.startTime)
        ? `startTime should be a number; got ${show(h.startTime)}`
        : h.segment !== undefined && !(Number.isSafeInteger(h.segment) && (h.segment as number) >= 0)
          ? `segment should be a whole number from 0; got ${show(h.segment)}`
          : h.recordingId !== undefined && typeof h.recordingId !== 'string'
            ? `recordingId should be a string; got ${show(h.recordingId)}`
            : h.toolVersion !== undefined && typeof h.toolVersion !== 'string'
              ? `toolVersion should be a string; got ${show(h.toolVersion)}`
              : !isStringList(h.nodes)
                ? `nodes should be a list of strings; got ${show(h.nodes)}`
                : h.agents !== undefined && !isStringList(h.agents)
                  ? `agents should be a list of strings; got ${show(h.agents)}`
                  : !Array.isArray(h.catalogs)
                    ? `catalogs should be a list; got ${show(h.catalogs)}`
                    : null;
  if (problem) throw new Error(`header frame: ${problem}`);
  return {
    tool: 'stickyscope',
    toolVersion: (h.toolVersion as string | undefined) ?? 'unknown',
    recordingId: (h.recordingId as string | undefined) ?? '',
    segment: (h.segment as number | undefined) ?? 0,
    startTime: h.startTime as number,
    nodes: h.nodes as string[],
    agents: (h.agents as string[] | undefined) ?? [],
    catalogs: h.catalogs as unknown[],
  };
}

export function decodeEnd(payload: Uint8Array): TraceEnd {
  const e = parseObject(payload, 'end');
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const problem =
    typeof e.endTime !== 'number' || !Number.isFinite(e.endTime)
      ? `endTime should be a number; got ${show(e.endTime)}`
      : !count(e.events)
        ? `events should be a count; got ${show(e.events)}`
        : e.lostEvents !== undefined && !count(e.lostEvents)
          ? `lostEvents should be a count; got ${show(e.lostEvents)}`
          : e.continued !== undefined && typeof e.continued !== 'boolean'
            ? `continued should be true or false; got ${show(e.continued)}`
            : e.nodes !== undefined && !isStringList(e.nodes)
              ? `nodes should be a list of strings; got ${show(e.nodes)}`
              : null;
  if (problem) throw new Error(`end frame: ${problem}`);
  return {
    endTime: e.endTime as number,
    events: e.events as number,
    nodes: (e.nodes as string[] | undefined) ?? [],
    lostEvents: (e.lostEvents as number | undefined) ?? 0,
    continued: (e.continued as boolean | undefined) ?? false,
  };
}

function parseObject(payload: Uint8Array, what: string): Record<string, unknown> {
  const v: unknown = JSON.parse(Buffer.from(payload).toString('utf8'));
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Error(`${what} frame should hold a JSON object; got ${show(v)}`);
  return v as Record<string, unknown>;
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** FILE for segment 0, FILE.k after it. */
export function segmentPath(base: string, segment: number): string {
  return segment === 0 ? base : `${base}.${segment}`;
}
