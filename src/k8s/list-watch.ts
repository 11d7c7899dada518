// A list-and-watch of one resource, kept alive for as long as the signal allows: the library's ListWatch, restarted
// after failures and resolving once its first list is applied.
import {
  ADD,
  DELETE,
  ERROR,
  ListWatch,
  UPDATE,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';

export interface ListWatchOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. /api/v1/namespaces/NS/pods. */
  path: string;
  /** The list call for the same collection and selector. */
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  signal: AbortSignal;
  /** After any object was added, changed or removed (also during a relist). */
  onChange: () => void;
  /** A failure; the watch retries after it (first after retryMs). */
  onError?: (err: Error) => void;
  /** First retry delay; doubles up to 30 s while failures continue. */
  retryMs?: number;
}

export interface Watched<T> {
  /** Current objects, all namespaces. */
  items(): readonly T[];
}

const MAX_RETRY_MS = 30_000;

/**
 * Resolves once the first list has been applied; rejects if the signal ends first.
 *
 * The library's ListWatch does the protocol right: it lists, watches from the list's resourceVersion, reconnects from
 * the last seen version when a stream ends, and relists on 410 Gone (as an HTTP status or an ERROR watch event),
 * reporting objects that vanished meanwhile as deletions. It falls short in two places, handled here: any other
 * failure (list refused, connection reset, 5xx) stops it for good after calling its error callbacks, so this restarts
 * it with a capped backoff; and it has no "first list done" signal. Its stop() also misses a list or a watch that is
 * still connecting; the list wrapper and StoppableWatch below end those.
 */
export function listAndWatch<T extends KubernetesObject>(opts: ListWatchOptions<T>): Promise<Watched<T>> {
  const { signal } = opts;
  const firstRetry = opts.retryMs ?? 1000;
  let retry = firstRetry;
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    let synced = false;
    const list = async () => {
      const result = await opts.list();
      if (signal.aborted) throw new Error('stopped');
      retry = firstRetry;
      // The library applies the list right after this promise settles; report the
      // sync after that, in a later turn of the event loop.
      if (!synced) {
        setImmediate(() => {
          if (signal.aborted || synced) return;
          synced = true;
          resolve({ items: () => lw.list() });
        });
      }
      return result;
    };
    const lw = new ListWatch<T>(
      opts.path,
      new StoppableWatch(opts.kubeConfig, signal),
      list,
      false,
      opts.labelSelector,
    );
    for (const verb of [ADD, UPDATE, DELETE] as const) lw.on(verb, () => opts.onChange());
    lw.on(ERROR, (err?: unknown) => {
      if (signal.aborted) return;
      const reason = describe(err) || silentFailure(opts.kubeConfig);
      opts.onError?.(new Error(`failed to list or watch ${opts.path}: ${reason}`));
      timer = setTimeout(() => void lw.start(), retry);
      retry = Math.min(retry * 2, MAX_RETRY_MS);
    });
    const stop = () => {
      clearTimeout(timer);
      void lw.stop();
      if (!synced)
        reject(
          signal.reason instanceof Error
            ? signal.reason
            : new Error(`watch of ${opts.path} stopped before its first list`),
        );
    };
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    void lw.start();
  });
}

class StoppableWatch extends Watch {
  constructor(
    kubeConfig: KubeConfig,
    private readonly signal: AbortSignal,
  ) {
    super(kubeConfig);
  }

  override async watch(...args: Parameters<Watch['watch']>): Promise<AbortController> {
    const controller = await super.watch(...args);
    if (this.signal.aborted) controller.abort();
    return controller;
  }
}

/** One line: the generated client's ApiException spreads status, headers and body over several. */
function describe(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown } | undefined;
  const status = typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) {
    let detail = '';
    try {
      const raw = e?.body;
      const body = typeof raw === 'string' ? JSON.parse(raw) : raw;
      if (body && typeof body.message === 'string') detail = `: ${body.message}`;
    } catch {
      // not a Status object: the status code alone says enough
    }
    return `HTTP ${status}${detail}`;
  }
  return String(e?.message ?? err).split('\n')[0]!;
}

/**
 * An error without a message: the library's exec credential plugin rejects with the plugin's stderr, empty when it
 * failed silently, so name the plugin for the user to run by hand.
 */
function silentFailure(kubeConfig: KubeConfig): string {
  const user = kubeConfig.getCurrentUser();
  const exec = user?.exec as { command?: string; args?: string[] } | undefined;
  if (!exec?.command) return 'an error without a message';
  const command = [exec.command, ...(exec.args ?? [])].join(' ');
  return `an error without a message; user '${user!.name}' gets its credentials from the exec plugin '${command}', which fails silently when it says nothing: run it by hand to see why`;
}
