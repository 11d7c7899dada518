// Which cluster to talk to: an explicit kubeconfig file, else the usual search
// ($KUBECONFIG, ~/.kube/config, then the in-cluster service account), at its current
// context or the one asked for (kubectl's --context).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { EnvironmentError, InputError } from '../core/errors.js';
import { readSmallFile } from '../core/small-file.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(file?: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) {
    if (!existsSync(file)) throw new InputError(`failed to read kubeconfig '${file}': no such file`);
    // Read here, bounded and only from a regular file: client-node's own read blocks for good on a FIFO.
    const text = readSmallFile(file, 'kubeconfig').toString('utf8');
    try {
      kc.loadFromString(text);
      kc.makePathsAbsolute(dirname(file));
    } catch (err) {
      throw new InputError(`failed to read kubeconfig '${file}': ${firstLine(err)}`);
    }
  } else {
    // loadFromDefault silently falls back to http://localhost:8080 when it finds
    // nothing; a tracer pointed at a random local port would only confuse, so say so.
    const found =
      Boolean(process.env.KUBECONFIG) ||
      existsSync(join(homedir(), '.kube', 'config')) ||
      existsSync(SERVICE_ACCOUNT_TOKEN);
    if (!found) {
      throw new EnvironmentError(
        `failed to find a cluster: no $KUBECONFIG, no ~/.kube/config and no in-cluster service account (${SERVICE_ACCOUNT_TOKEN}); pass --kubeconfig FILE`,
      );
    }
    // The same check for the files $KUBECONFIG names (client-node reads them itself).
    for (const f of (process.env.KUBECONFIG ?? '').split(delimiter).filter((f) => f && existsSync(f)))
      readSmallFile(f, 'kubeconfig ($KUBECONFIG)');
    try {
      kc.loadFromDefault();
    } catch (err) {
      throw new InputError(`failed to load the kubeconfig: ${firstLine(err)}`);
    }
  }
  if (context !== undefined) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(context)) {
      throw new InputError(
        `failed to find context '${context}' in the kubeconfig; it has: ${names.length ? names.join(', ') : 'no contexts'}`,
      );
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) {
    throw new InputError(
      `failed to pick a cluster from the kubeconfig: current context '${kc.getCurrentContext()}' names no cluster`,
    );
  }
  return kc;
}

/** A YAML parser's message spans lines (the offending text, a caret): its first line says it, and errors are one line. */
function firstLine(err: unknown): string {
  return ((err as Error).message ?? String(err)).split('\n')[0]!.trim();
}
