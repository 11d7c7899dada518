// keepalive --late-start: the routers' keep-alive connections are open before the agents start, as when an SRE starts
// the tool during an incident. No selection is ever seen; the answer (which pod is idle, which carries most of the
// open connections and bytes) must come from the connections open when tracing began (issue 26).
import { setTimeout as sleep } from 'node:timers/promises';
import { readBackendLogs } from '../lab/traffic.js';
import type { BackendLogLine } from '../lab/traffic-types.js';
import type { Lab } from '../lab/lab.js';
import type { Report } from '../report/types.js';
import { httpUrl } from './family.js';
import { BYTES_UNAVAILABLE, bytesCell, num, podOf, serviceIn, table } from './format.js';
import { conntrackEntries, countBy, curlRepeated, type ConntrackEntry } from './netns-tools.js';
import type { ScenarioContext } from './types.js';

/** How long the early connections outlast the phase: the agents' start, their catalogs and the report's settling. */
const AGENTS_BUDGET_S = 60;

export interface LateEvidence {
  service: string;
  /** When the routers connected (ISO): before the agents started. */
  startedAt: string;
  /** The node's conntrack entries of the Service at the end of the phase (`conntrack -L`), with bytes. */
  conntrack: ConntrackEntry[];
  backendLogs: BackendLogLine[];
}

const early = new WeakMap<Lab, { service: string; startedAt: string }>();

/** Before the agents: each router opens one keep-alive connection and keeps sending; they end at teardown. */
export function openEarly(ctx: ScenarioContext, service: string, perSecond: number): void {
  const { lab } = ctx;
  const s = lab.services.find((x) => x.serviceName === service)!;
  const count = Math.round((AGENTS_BUDGET_S + ctx.phaseMs / 1000) * perSecond);
  const stop = new AbortController();
  const signal = AbortSignal.any([stop.signal, ctx.signal]);
  ctx.say(`keepalive --late-start: ${lab.clients.length} routers connect to ${service} before the agents start`);
  // Taken before the first curl starts: spawning the next ones takes long enough for the first to connect, and a
  // backend log line stamped before startedAt would be left out of the ground truth.
  const startedAt = new Date().toISOString();
  for (const c of lab.clients)
    curlRepeated(c.netns, httpUrl(s.clusterIP, s.port), { count, perSecond, close: false, signal }).catch(() => []);
  ctx.defer(() => stop.abort());
  early.set(lab, { service, startedAt });
}

/** With the agents up: one phase of the same connections, then what the node's table and the backends say. */
export async function observeLate(ctx: ScenarioContext): Promise<LateEvidence> {
  const { lab } = ctx;
  const e = early.get(lab)!;
  const s = lab.services.find((x) => x.serviceName === e.service)!;
  ctx.say(`keepalive --late-start: watching the open connections for ${ctx.phaseMs / 1000} s`);
  await sleep(ctx.phaseMs, undefined, { signal: ctx.signal }).catch(() => {});
  return {
    ...e,
    conntrack: await conntrackEntries(lab.nodes[0]!, 'tcp', s.clusterIP),
    backendLogs: await readBackendLogs(lab),
  };
}

/** Whether the lab's run is a `--late-start` one (its connections opened by openEarly). */
export function isLate(lab: Lab): boolean {
  return early.has(lab);
}

export function lateLookAt(lab: Lab): string {
  const e = early.get(lab)!;
  return (
    `Three router pods (c1-c3) each opened one HTTP keep-alive connection to ${e.service} before the agents ` +
    `started, and keep sending requests on it. stickyscope sees no new connection: watch LIVE (open now) and, ` +
    `with 'l', the bars by open connections and by bytes. The node picked a pod per connection, so a pod can sit ` +
    `idle while another carries two thirds of the load; the answer compares the open connections and bytes per ` +
    `pod (the report) with the backends' logs and the node's conntrack -L.`
  );
}

export function lateAnswer(report: Report, ev: LateEvidence, lab: Lab): string[] {
  const pods = lab.backends.map((b) => b.name);
  const s = serviceIn(report, ev.service);
  const byPod = (f: (b: NonNullable<typeof s>['backends'][number]) => number | null | undefined) =>
    new Map((s?.backends ?? []).map((b) => [podOf(lab, b.backend), f(b) ?? 0]));
  const live = byPod((b) => b.liveConnections);
  const bytes = byPod((b) => b.bytes);
  // Null bytes: the node keeps no counters (nf_conntrack_acct off); then neither does `conntrack -L`.
  const shown = bytesCell(s);
  const logged = countBy(
    ev.backendLogs.filter((l) => l.proto === 'tcp' && l.ts >= ev.startedAt),
    (l) => l.backend,
  );
  const table_ = countBy(
    ev.conntrack,
    (c) => podOf(lab, c.backend),
    (c) => c.bytes,
  );
  const open = s?.liveConnections ?? 0;
  const idle = pods.filter((p) => (live.get(p) ?? 0) === 0);
  const busiest = [...live].sort((a, b) => b[1] - a[1])[0];
  return [
    `Started after the connections (${ev.service}, ${s?.service ?? 'not in the report'}): ${s?.selections ?? 0} selections seen, ${open} connections open.`,
    ...table(
      ['pod', 'open (report)', 'bytes (report)', 'connections (backend logs)', 'bytes (conntrack -L)'],
      pods.map((p) => [p, live.get(p) ?? 0, shown(bytes.get(p)), logged.get(p) ?? 0, shown(table_.get(p))]),
    ),
    `  spread by open connections: maxOverMean ${num(s?.loadSpread?.liveConnections.maxOverMean)}, by bytes ${s?.loadSpread?.bytes ? num(s.loadSpread.bytes.maxOverMean) : BYTES_UNAVAILABLE}`,
    `Idle: ${idle.join(', ') || 'none'}. ${busiest && open > 0 ? `${busiest[0]} carries ${busiest[1]} of ${open} open connections (${Math.round((100 * busiest[1]) / open)}%).` : ''}`,
  ];
}
