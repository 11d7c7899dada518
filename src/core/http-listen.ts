// Binding and closing a node:http server on "HOST:PORT" (the agent's and serve's
// /metrics), with failures said in one line and close waiting for open requests briefly.
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

type Server = HttpServer | HttpsServer;

/** "127.0.0.1:9090", "[::1]:0" -> host and port; undefined when the text is neither. */
function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** Resolves to the bound "host:port" (port 0 picks a free one). */
export function listenHttp(server: Server, address: string): Promise<string> {
  const hp = splitHostPort(address);
  if (!hp) return Promise.reject(new Error(`failed to listen on '${address}': expected HOST:PORT`));
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`failed to listen on ${address}: ${err.message}`));
    server.once('error', onError);
    server.listen(hp.port, hp.host, () => {
      server.off('error', onError);
      const a = server.address();
      const port = typeof a === 'object' && a ? a.port : hp.port;
      resolve(`${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${port}`);
    });
  });
}

/** Stops accepting, ends idle keep-alive connections, and cuts the rest after `graceMs`. */
export function closeHttp(server: Server, graceMs = 2000): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
