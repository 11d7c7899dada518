// `serve`'s HTTP endpoints: /metrics, /report.{json,md,html}?window=D, /healthz, /readyz.
// A bad request gets a 4xx with a one-line reason, a report not possible yet a 503 with
// Retry-After; a failure inside a handler is a 500, never the end of the process.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { printable } from '../core/text.js';
import type { ReportFormat } from '../report/from-file.js';
import type { AgentBook } from './agent-book.js';
import type { ServeHub, WindowChoice } from './hub.js';
import type { ServeMetrics } from './metrics.js';
import type { ReportBuilder } from './report-builder.js';
import { formatWindow, parseWindowParam } from './window-param.js';

export interface ServeHttpOptions {
  /**
   * Whether /report.* is served on this listener: the mutual-TLS one, or a plain one bound to
   * loopback. A report names every client address: never in plaintext beyond this host.
   */
  reportsHere: boolean;
  /** Where reports are served instead, said in the 403 of a listener that does not serve them. */
  reportsElsewhere?: string;
  hub: ServeHub;
  book: AgentBook;
  metrics: ServeMetrics;
  /** Builds the reports off this thread, at most its cap at a time. */
  reports: ReportBuilder;
  onError?: (err: Error) => void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const TYPES: Record<ReportFormat, string> = {
  json: 'application/json; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
};
const RETRY_SECONDS = '2';

/** The plain listener: /metrics, /healthz, /readyz, and /report.* when `reportsHere`. */
export function createServeHttp(opts: ServeHttpOptions): Server {
  return answerBadRequests(createServer(serveHandler(opts)));
}

/** Every request of a listener (plain or TLS) answered by `handle`, a failure as a one-line 4xx/5xx. */
export function serveHandler(opts: ServeHttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(opts, req, res).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, `failed to answer: ${(err as Error)?.message}`);
      if (e.status === 500) opts.onError?.(err as Error);
      send(res, e.status, 'text/plain; charset=utf-8', `${e.message}\n`, e.headers);
    });
  };
}

/** A request line or headers node cannot parse: answer 400 rather than drop the socket silently. */
export function answerBadRequests<S extends Server | import('node:https').Server>(server: S): S {
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

async function handle(opts: ServeHttpOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    throw new HttpError(405, `method ${req.method} not allowed; expected GET or HEAD`, { Allow: 'GET, HEAD' });
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = parseQuery(q < 0 ? '' : raw.slice(q + 1));
  const { hub, book } = opts;
  switch (path) {
    case '/healthz':
      return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
    case '/readyz': {
      const r = book.readiness();
      if (r.ready) return send(res, 200, 'text/plain; charset=utf-8', `ready: ${r.why}\n`);
      throw new HttpError(503, `not ready: ${printable(r.why)}`, { 'Retry-After': RETRY_SECONDS });
    }
    case '/metrics': {
      noParams(query, path);
      return send(res, 200, opts.metrics.registry.contentType, await opts.metrics.scrape());
    }
    case '/report.json':
    case '/report.md':
    case '/report.html': {
      const format = path.slice('/report.'.length) as ReportFormat;
      if (!opts.reportsHere)
        throw new HttpError(
          403,
          `reports name every client address: not served in plaintext beyond loopback; ${opts.reportsElsewhere ?? 'serve --report-listen serves them over mutual TLS, or --listen on loopback (kubectl port-forward)'}`,
        );
      const window = windowOf(query, hub);
      if (hub.empty)
        throw new HttpError(503, `no events received yet from ${book.list().length} agent(s); retry in a few seconds`, {
          'Retry-After': RETRY_SECONDS,
        });
      const building = opts.reports.tryBuild(window, format);
      if (!building)
        throw new HttpError(
          503,
          `${opts.reports.maxBuilds} report(s) already being built (serve --max-report-builds); retry in a few seconds`,
          { 'Retry-After': RETRY_SECONDS },
        );
      return send(res, 200, TYPES[format], await building);
    }
    case '/':
      return send(
        res,
        200,
        'text/plain; charset=utf-8',
        `stickyscope serve: /metrics /report.json /report.md /report.html (?window=${hub.windows.map(formatWindow).join('|')}|all) /healthz /readyz\n`,
      );
    default:
      throw new HttpError(
        404,
        `no such path '${printable(path)}'; expected /metrics, /report.json, /report.md, /report.html, /healthz or /readyz`,
      );
  }
}

/** Every parameter once, percent-decoding that fails is a 400 (URLSearchParams would keep it silently). */
function parseQuery(text: string): Map<string, string> {
  const out = new Map<string, string>();
  if (text === '') return out;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' '));
      value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      throw new HttpError(
        400,
        `malformed query string '${printable(text)}': bad percent-encoding in '${printable(part)}'`,
      );
    }
    if (out.has(key)) throw new HttpError(400, `query parameter '${printable(key)}' given twice; expected it once`);
    out.set(key, value);
  }
  return out;
}

function noParams(query: Map<string, string>, path: string): void {
  for (const key of query.keys()) throw new HttpError(400, `${path} takes no query parameter; got '${printable(key)}'`);
}

function windowOf(query: Map<string, string>, hub: ServeHub): WindowChoice {
  for (const key of query.keys())
    if (key !== 'window') throw new HttpError(400, `unknown query parameter '${printable(key)}'; expected window`);
  const text = query.get('window');
  if (text === undefined) return hub.windows[0]!;
  const offered = [...hub.windows.map(formatWindow), 'all'].join(', ');
  const w = parseWindowParam(text);
  if (w === undefined)
    throw new HttpError(400, `window expects a duration like 5m or 'all'; got '${printable(text)}' (kept: ${offered})`);
  if (!hub.has(w))
    throw new HttpError(
      400,
      `window ${printable(text)} is not kept; expected one of ${offered} (serve --window adds more)`,
    );
  return w;
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
