// The lab's Kubernetes API: a list/watch server on 127.0.0.1 speaking what client-go and @kubernetes/client-node rely
// on (lists with a resourceVersion, watches from one, 410 Gone after compaction, label selectors), over HTTPS with a
// bearer token, and kubectl's discovery and single-object reads. `lab api` serves the lab's Services, EndpointSlices
// and Nodes on it (cluster-objects.ts), so `tui --k8s` and `report --k8s` work on the lab; the tests use it as the
// cluster's API double (test/helpers/fake-apiserver.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeCertDir } from '../certs/make-certs.js';

type Resource = 'pods' | 'services' | 'endpointslices' | 'secrets' | 'nodes';
export type ApiObject = Obj;
type Obj = {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string };
  [k: string]: unknown;
};
interface Change {
  rv: number;
  resource: Resource;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  obj: Obj;
  prev?: Obj;
}
interface OpenWatch {
  resource: Resource;
  namespace?: string;
  selector: string;
  res: ServerResponse;
}

interface Route {
  re: RegExp;
  resource: Resource;
  kind: string;
  apiVersion: string;
  shortNames?: string[];
}
const ROUTES: Route[] = [
  {
    re: /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?pods(?:\/([^/]+))?$/,
    resource: 'pods',
    kind: 'Pod',
    apiVersion: 'v1',
    shortNames: ['po'],
  },
  {
    re: /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?services(?:\/([^/]+))?$/,
    resource: 'services',
    kind: 'Service',
    apiVersion: 'v1',
    shortNames: ['svc'],
  },
  {
    re: /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?secrets(?:\/([^/]+))?$/,
    resource: 'secrets',
    kind: 'Secret',
    apiVersion: 'v1',
  },
  {
    // Cluster-scoped: the empty group stands where the others have a namespace.
    re: /^\/api\/v1\/()nodes(?:\/([^/]+))?$/,
    resource: 'nodes',
    kind: 'Node',
    apiVersion: 'v1',
    shortNames: ['no'],
  },
  {
    re: /^\/apis\/discovery\.k8s\.io\/v1\/(?:namespaces\/([^/]+)\/)?endpointslices(?:\/([^/]+))?$/,
    resource: 'endpointslices',
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
  },
];

/**
 * kubectl's legacy discovery: the core group at /api and /api/v1, the named groups at /apis and /apis/G/V. kubectl
 * asks for the aggregated form first and falls back to this when the answer is plain JSON.
 */
function discovery(path: string): object | undefined {
  const resources = (apiVersion: string) => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersion,
    resources: ROUTES.filter((r) => r.apiVersion === apiVersion).map((r) => ({
      name: r.resource,
      singularName: r.kind.toLowerCase(),
      namespaced: r.resource !== 'nodes',
      kind: r.kind,
      verbs: ['get', 'list', 'watch'],
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    })),
  });
  const group = { groupVersion: 'discovery.k8s.io/v1', version: 'v1' };
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  if (path === '/api/v1') return resources('v1');
  if (path === '/apis')
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [{ name: 'discovery.k8s.io', versions: [group], preferredVersion: group }],
    };
  if (path === '/apis/discovery.k8s.io/v1') return resources('discovery.k8s.io/v1');
  return undefined;
}

export interface ApiServer {
  url: string;
  /** A kubeconfig file pointing at this server with its token. */
  kubeconfig: string;
  /** The bearer token it accepts. */
  token: string;
  /** Every request: method, path and query. */
  requests: { method: string; path: string; query: URLSearchParams }[];
  /**
   * Creates or replaces an object (bumping the resourceVersion). `quiet` keeps it from
   * the open watches, as if it happened while the client was disconnected: only a
   * resumed watch or a relist can reveal it.
   */
  apply(resource: Resource, obj: Obj, quiet?: boolean): void;
  remove(resource: Resource, namespace: string, name: string, quiet?: boolean): void;
  /**
   * Ends every open watch (with an ERROR 410 event in 'event' mode, plainly otherwise)
   * after the history up to now was compacted away (one more version is spent, as
   * other objects of a real cluster would), so resuming from any version a client has
   * seen gets 410 Gone and only a relist recovers.
   */
  expireWatches(): void;
  /** Ends every open watch stream without an error (as the server's watch timeout does). */
  endWatches(): void;
  openWatches(): number;
  /** Lists served for a resource so far. */
  lists(resource: Resource): number;
  close(): Promise<void>;
}

export interface ApiServerOptions {
  /** Folder for the kubeconfig file. */
  dir: string;
  /** How a watch from a compacted version is refused. */
  expiry?: 'event' | 'http';
}

/**
 * The objects, their change history and the open watches: a list carries the collection's resourceVersion; a watch
 * from version N gets the changes after N, honouring label selectors the way the real server does (an object leaving
 * the selector is DELETED, one entering it ADDED).
 */
class ObjectStore {
  private readonly objects = new Map<Resource, Map<string, Obj>>(ROUTES.map((r) => [r.resource, new Map()]));
  private readonly history: Change[] = [];
  readonly watches = new Set<OpenWatch>();
  rv = 100;
  /** Watches from before this version get 410 Gone. */
  compactedRv = 0;

  get(resource: Resource, key: string): Obj | undefined {
    return this.objects.get(resource)!.get(key);
  }

  list(resource: Resource, namespace: string | undefined, selector: string): Obj[] {
    return [...this.objects.get(resource)!.values()].filter(
      (o) => (!namespace || o.metadata.namespace === namespace) && matches(o, selector),
    );
  }

  set(resource: Resource, obj: Obj, quiet: boolean): void {
    const copy = structuredClone(obj);
    const key = `${copy.metadata.namespace ?? ''}/${copy.metadata.name}`;
    const prev = this.get(resource, key);
    copy.metadata.resourceVersion = String(++this.rv);
    this.objects.get(resource)!.set(key, copy);
    this.record({ rv: this.rv, resource, type: prev ? 'MODIFIED' : 'ADDED', obj: copy, prev }, quiet);
  }

  delete(resource: Resource, key: string, quiet: boolean): void {
    const prev = this.get(resource, key);
    if (!prev) throw new Error(`lab API server: no ${resource} ${key} to remove`);
    this.objects.get(resource)!.delete(key);
    const gone = structuredClone(prev);
    gone.metadata.resourceVersion = String(++this.rv);
    this.record({ rv: this.rv, resource, type: 'DELETED', obj: gone }, quiet);
  }

  /** Opens a watch: the objects now (from version 0) or the changes after `from`, then every change as it comes. */
  watch(w: OpenWatch, from: number, now: Obj[]): void {
    if (from === 0) for (const obj of now) w.res.write(`${JSON.stringify({ type: 'ADDED', object: obj })}\n`);
    else for (const c of this.history) if (c.rv > from) send(w, c);
    this.watches.add(w);
  }

  /** Forgets the history: every version seen so far is compacted away. */
  compact(): void {
    this.compactedRv = ++this.rv;
    this.history.length = 0;
  }

  endAll(last?: string): void {
    for (const w of this.watches) w.res.end(last);
    this.watches.clear();
  }

  private record(change: Change, quiet: boolean): void {
    this.history.push(change);
    if (!quiet) for (const w of this.watches) send(w, change);
  }
}

function send(w: OpenWatch, c: Change): void {
  if (c.resource !== w.resource || (w.namespace && c.obj.metadata.namespace !== w.namespace)) return;
  const now = matches(c.obj, w.selector);
  const before = c.prev ? matches(c.prev, w.selector) : false;
  let type: Change['type'] | null = c.type;
  if (c.type === 'MODIFIED' && now !== before) type = now ? 'ADDED' : 'DELETED';
  else if (!now) type = null;
  if (type) w.res.write(`${JSON.stringify({ type, object: c.obj })}\n`);
}

const json = (res: ServerResponse, body: object) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/**
 * One GET of a resource route: one object, a list, or a watch. A watch from a compacted version fails with 410 Gone,
 * as an ERROR event carrying a Status with code 410 on a 200 stream (what kube-apiserver sends) or as an HTTP 410.
 */
function serveResource(
  store: ObjectStore,
  route: { r: Route; m: RegExpExecArray },
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  expiry: 'event' | 'http',
): void {
  const { r, m } = route;
  const namespace = m[1] ? decodeURIComponent(m[1]) : undefined;
  if (m[2]) {
    const name = decodeURIComponent(m[2]);
    const obj = store.get(r.resource, `${namespace ?? ''}/${name}`);
    if (!obj) return void status(res, 404, 'NotFound', `${r.resource} "${name}" not found`);
    return void json(res, { kind: r.kind, apiVersion: r.apiVersion, ...obj });
  }
  const selector = url.searchParams.get('labelSelector') ?? '';
  const items = store.list(r.resource, namespace, selector);
  if (url.searchParams.get('watch') !== 'true')
    return void json(res, {
      kind: `${r.kind}List`,
      apiVersion: r.apiVersion,
      metadata: { resourceVersion: String(store.rv) },
      items,
    });
  const from = Number(url.searchParams.get('resourceVersion') || '0');
  if (from !== 0 && from < store.compactedRv) {
    const message = `too old resource version: ${from} (${store.compactedRv})`;
    if (expiry === 'http') return void status(res, 410, 'Expired', message);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', message) })}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
  res.flushHeaders();
  const w: OpenWatch = { resource: r.resource, namespace, selector, res };
  store.watch(w, from, items);
  const drop = () => store.watches.delete(w);
  res.on('close', drop);
  req.on('close', drop);
}

/** A kubeconfig naming the server, its CA and the token. */
function writeKubeconfig(file: string, url: string, ca: string, token: string): void {
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: lab',
      '  cluster:',
      `    server: ${url}`,
      `    certificate-authority: ${ca}`,
      'users:',
      '- name: lab',
      '  user:',
      `    token: ${token}`,
      'contexts:',
      '- name: lab',
      '  context: {cluster: lab, user: lab}',
      'current-context: lab',
      '',
    ].join('\n'),
  );
}

/** Serves on 127.0.0.1 (a port of its own) over HTTPS; its certificate, CA and kubeconfig go into `opts.dir`. */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const token = `token-${process.pid}-${Date.now()}`;
  const expiry = opts.expiry ?? 'event';
  const store = new ObjectStore();
  const requests: ApiServer['requests'] = [];
  // HTTPS as a cluster serves it: client-go sends a bearer token over TLS only. The certificate is the one
  // `stickyscope certs` makes for the aggregator, which names localhost.
  const pki = join(opts.dir, 'apiserver-pki');
  await writeCertDir(pki, { nodes: [], clients: [], days: 1 });
  const pem = (name: string) => readFileSync(join(pki, name));
  const server = createServer({ cert: pem('aggregator.crt'), key: pem('aggregator.key') }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams });
    if (req.headers.authorization !== `Bearer ${token}`)
      return status(res, 401, 'Unauthorized', 'no or wrong bearer token');
    if (req.method !== 'GET') return status(res, 405, 'MethodNotAllowed', `only GET is served, not ${req.method}`);
    const about = discovery(url.pathname.replace(/\/$/, ''));
    if (about) return json(res, about);
    const route = ROUTES.map((r) => ({ r, m: r.re.exec(url.pathname) })).find((x) => x.m);
    if (!route) return status(res, 404, 'NotFound', `no route for ${req.method} ${url.pathname}`);
    serveResource(store, { r: route.r, m: route.m! }, url, req, res, expiry);
  });
  // Every socket, TLS handshakes included: closeAllConnections() ends HTTP connections only, and close() would wait for
  // a client's watch still shaking hands when it is called.
  const sockets = new Set<Socket>();
  server.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://localhost:${(server.address() as AddressInfo).port}`;
  const kubeconfig = join(opts.dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, url, join(pki, 'ca.crt'), token);
  return {
    url,
    kubeconfig,
    token,
    requests,
    apply: (resource, obj, quiet = false) => store.set(resource, obj, quiet),
    remove: (resource, namespace, name, quiet = false) => store.delete(resource, `${namespace}/${name}`, quiet),
    expireWatches() {
      store.compact();
      const message = `too old resource version (${store.compactedRv})`;
      store.endAll(
        expiry === 'event'
          ? `${JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', message) })}\n`
          : undefined,
      );
    },
    endWatches: () => store.endAll(),
    openWatches: () => store.watches.size,
    lists(resource) {
      const re = ROUTES.find((x) => x.resource === resource)!.re;
      return requests.filter((r) => {
        const m = r.query.get('watch') === 'true' ? null : re.exec(r.path);
        return m !== null && m[2] === undefined;
      }).length;
    },
    close() {
      store.endAll();
      server.closeAllConnections();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const sock of sockets) sock.destroy();
      return closed;
    },
  };
}

function statusBody(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function status(res: ServerResponse, code: number, reason: string, message: string) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(statusBody(code, reason, message)));
}

/** Equality-based selectors: "a=b", "a==b", "a!=b", "a", "!a", comma-separated. */
function matches(obj: Obj, selector: string): boolean {
  const labels = obj.metadata.labels ?? {};
  for (const term of selector
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)) {
    const unequal = /^([^!=]+)!=(.*)$/.exec(term);
    const equal = unequal ? null : /^([^!=]+)==?(.*)$/.exec(term);
    if (unequal) {
      if (labels[unequal[1]!.trim()] === unequal[2]!.trim()) return false;
    } else if (equal) {
      if (labels[equal[1]!.trim()] !== equal[2]!.trim()) return false;
    } else if (term.startsWith('!')) {
      if (term.slice(1) in labels) return false;
    } else if (!(term in labels)) return false;
  }
  return true;
}
