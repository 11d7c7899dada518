// Services a node's kube-proxy refuses (no endpoints there): what the TUI and the report mark a Service row with.
import type { ServiceInfo } from '../core/event.js';
import type { ServiceRec } from './services.js';

export interface Refusal {
  /** `reject` where any node rejects (the client is told at once), else `drop` (the client waits). */
  mode: NonNullable<ServiceInfo['noEndpoints']>;
  /** The nodes whose rules refuse it now, by name, sorted. */
  nodes: string[];
}

/** How the nodes' current rules refuse `svc`, or null where none does; `names` are the roster's node names. */
export function refusalOf(svc: ServiceRec, names: readonly string[]): Refusal | null {
  const nodes: string[] = [];
  let reject = false;
  svc.views.forEach((v, n) => {
    const how = v && !v.removed ? v.info.noEndpoints : undefined;
    if (!how) return;
    nodes.push(names[n] ?? String(n));
    if (how === 'reject') reject = true;
  });
  return nodes.length === 0 ? null : { mode: reject ? 'reject' : 'drop', nodes: nodes.sort() };
}

/** "no endpoints (reject)"; "no local endpoints (drop)" where the Service still has endpoints elsewhere (Local). */
export function refusalText(mode: Refusal['mode'], endpoints: number): string {
  return `${endpoints === 0 ? 'no endpoints' : 'no local endpoints'} (${mode})`;
}
