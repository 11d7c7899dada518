// What grpc-js's server leaves out: gRPC's keepalive policy (GOAWAY "too_many_pings"), word of the size limits it
// enforces itself, and resetting one stalled stream. All need grpc-js's HTTP/2 objects, which it keeps to itself:
// reached here only, and checked, so an upgrade that moves them fails loudly in tests. That is why package.json pins
// @grpc/grpc-js exactly: an upgrade is a deliberate change, made with this file's tests run.
import * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

export interface GuardOptions {
  minPingIntervalMs: number;
  maxPingStrikes: number;
  permitPingsWithoutCalls: boolean;
  /** A connection was closed for pinging too often; `peer` is "ip:port". */
  onPingFlood(peer: string, why: string): void;
  /** grpc-js ended a call for a message over its size limits; `details` is its status message. */
  onOversized(peer: string, path: string, details: string): void;
}

const guarded = new WeakSet<object>();

function peerOf(session: http2.Http2Session): string {
  const s = session.socket;
  const host = s?.remoteAddress ?? '?';
  return `${host.includes(':') ? `[${host}]` : host}:${s?.remotePort ?? '?'}`;
}

/** The grpc-status a finished stream was answered with, and its message. */
function statusOf(stream: http2.ServerHttp2Stream): { code: number; details: string } | null {
  const h = (stream.sentTrailers ?? stream.sentHeaders ?? {}) as http2.OutgoingHttpHeaders;
  const code = h['grpc-status'];
  if (code === undefined) return null;
  let details = String(h['grpc-message'] ?? '');
  try {
    details = decodeURIComponent(details);
  } catch {
    // Left as sent.
  }
  return { code: Number(code), details };
}

function guardSession(session: http2.ServerHttp2Session, opts: GuardOptions): void {
  let open = 0;
  let lastPing = Number.NEGATIVE_INFINITY;
  let strikes = 0;
  session.on('stream', (stream, headers) => {
    open++;
    stream.once('close', () => {
      open--;
      const status = statusOf(stream);
      // 8 is RESOURCE_EXHAUSTED; grpc-js says "... larger than max ..." for both directions.
      if (status?.code === 8 && / larger than /.test(status.details))
        opts.onOversized(peerOf(session), String(headers[':path'] ?? ''), status.details);
    });
  });
  session.on('ping', () => {
    const now = performance.now();
    const why =
      now - lastPing < opts.minPingIntervalMs
        ? `pinged again within ${Math.round(now - lastPing)} ms (at least ${opts.minPingIntervalMs} ms apart expected)`
        : open === 0 && !opts.permitPingsWithoutCalls
          ? 'pinged with no call open'
          : '';
    lastPing = now;
    if (!why) {
      strikes = 0;
      return;
    }
    if (++strikes <= opts.maxPingStrikes || session.destroyed) return;
    opts.onPingFlood(peerOf(session), why);
    // The debug data tells gRPC clients to ping less often on their next connection.
    session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from('too_many_pings'));
    session.destroy();
  });
}

/** Applies the policy to every connection `server` accepts from now on; call after bindAsync. */
export function guardConnections(server: grpc.Server, opts: GuardOptions): void {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map))
    throw new Error(
      'this @grpc/grpc-js no longer keeps its HTTP/2 servers in Server.http2Servers: the agent cannot enforce its ping and size policy (see src/agent/connection-guard.ts)',
    );
  for (const h2 of servers.keys() as IterableIterator<http2.Http2Server>) {
    if (guarded.has(h2)) continue;
    guarded.add(h2);
    h2.on('session', (session: http2.ServerHttp2Session) => guardSession(session, opts));
  }
}

/**
 * Resets a server call's HTTP/2 stream with ENHANCE_YOUR_CALM, which gRPC clients report
 * as RESOURCE_EXHAUSTED at once, even when what was sent before still waits unread.
 * Returns false when the stream is not reachable (then the caller can only end the call).
 */
export function resetCall(call: grpc.ServerWritableStream<unknown, unknown>): boolean {
  const stream = (call as unknown as { call?: { stream?: unknown } }).call?.stream;
  if (!(stream instanceof Object) || typeof (stream as http2.ServerHttp2Stream).close !== 'function') return false;
  const s = stream as http2.ServerHttp2Stream;
  if (!s.closed) s.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  return true;
}
