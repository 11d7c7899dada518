// The few lines an incident channel needs, each with its next step, drawn from figures the report already holds: a
// person pasting a report should not have to read every table to learn that affinity broke because a list was full.
// Pure over a Report, so reports built from events, from summaries and by serve all get the same findings.
import { refusalText } from '../aggregator/refused.js';
import type { Report, ServiceReport } from './types.js';
import { topologyFindings, zonelessFinding } from './topology-findings.js';

type Cause = keyof ServiceReport['affinityVerdicts']['violationCauses'];

type FindingKind =
  | 'violations'
  | 'noEndpoints'
  | 'topologyFallback'
  | 'topologyRules'
  | 'predatingConnections'
  | 'idleBackends'
  | 'spreadSkewed'
  | 'nodeDivergence'
  | 'forcedRepick'
  | 'lostEvents'
  | 'nodeMissing'
  | 'nodesWithoutZone'
  | 'rejectedEvents';

export interface Finding {
  kind: FindingKind;
  /** The Service's name (its address where it has none); absent for what concerns the whole report. */
  service?: string;
  /** kind `violations`: the cause they were settled with. */
  cause?: Cause;
  /** How many: violations, clients, connections, events, nodes. */
  count: number;
  /** What was found, one line, starting with the Service. */
  text: string;
  /** What to do or look at next. */
  next: string;
}

/** The report's findings: Services' first, most violations first, then what limits the report itself. */
export function findingsOf(report: Report): Finding[] {
  const services = report.services.flatMap(serviceFindings);
  return [...services, ...reportFindings(report)];
}

/** "what was found; next step": one line of the summary. */
export function findingLine(f: Finding): string {
  return `${f.text}; ${f.next}`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function serviceFindings(s: ServiceReport): Finding[] {
  const who = s.name ?? s.service;
  const out: Finding[] = [...violationFindings(s, who)];
  if (s.noEndpoints) {
    const local = s.backends.length > 0;
    out.push({
      kind: 'noEndpoints',
      service: who,
      count: s.noEndpoints.nodes.length,
      text: `${who}: refused by kube-proxy on ${s.noEndpoints.nodes.join(', ')}: ${refusalText(s.noEndpoints.mode, s.backends.length)}`,
      next: local
        ? 'no pod of this externalTrafficPolicy: Local Service runs there: send its traffic only to nodes with one, or run a pod on each'
        : `no ready pod backs it: ${slicesCommand(s)}, then the pods' readiness`,
    });
  }
  out.push(...topologyFindings(s, who));
  out.push(...connectionFindings(s, who));
  if (s.spreadVerdict.verdict === 'skewed') out.push(skewFinding(s, who));
  if (s.nodeDivergence.clients > 0 && s.affinity.mode === 'ClientIP')
    out.push({
      kind: 'nodeDivergence',
      service: who,
      count: s.nodeDivergence.clients,
      text: `${who}: ${plural(s.nodeDivergence.clients, 'client')} got different backends on different nodes`,
      next: 'ClientIP affinity is kept per node: send each client through one node (a load balancer with source-IP affinity)',
    });
  const forced = s.affinityVerdicts.forcedRepick;
  if (forced > 0)
    out.push({
      kind: 'forcedRepick',
      service: who,
      count: forced,
      text: `${who}: ${plural(forced, 'client')} re-picked because their backend left the endpoints (forcedRepick)`,
      next: `expected in a rollout; otherwise find why pods left: ${slicesCommand(s)}`,
    });
  return out;
}

const CAUSES: Cause[] = ['listFull', 'setFull', 'crossFrontend', 'unknown'];

function violationFindings(s: ServiceReport, who: string): Finding[] {
  const causes = s.affinityVerdicts.violationCauses;
  const timeout =
    s.affinity.timeoutSeconds === null ? 'timeoutSeconds' : `timeoutSeconds (${s.affinity.timeoutSeconds} s now)`;
  return CAUSES.filter((c) => causes[c] > 0)
    .sort((a, b) => causes[b] - causes[a])
    .map((cause) => {
      const n = causes[cause];
      const head = `${who}: ${plural(n, 'affinity violation')}, cause ${cause}`;
      const [what, next] = causeWords(cause, s, timeout);
      return { kind: 'violations', service: who, cause, count: n, text: `${head}: ${what}`, next };
    });
}

/** What a cause means and what to do about it, in kube-proxy's and the kernel's own knob names. */
function causeWords(cause: Cause, s: ServiceReport, timeout: string): [string, string] {
  switch (cause) {
    case 'listFull':
      return [
        'the xt_recent affinity list is full and evicted clients before their timeout',
        `raise xt_recent's ip_list_tot on the nodes (a module option, default 100 clients per endpoint) or shorten ${timeout}`,
      ];
    case 'setFull': {
      const size = Math.max(0, ...s.affinitySets.map((a) => a.size));
      return [
        `the nftables affinity set is full${size > 0 ? ` (size ${size})` : ''} and never pinned new clients`,
        `shorten ${timeout} so entries expire sooner, or spread the clients over more endpoints`,
      ];
    }
    case 'crossFrontend':
      return [
        'clients came in through another frontend of the port (NodePort, external IP) that pinned them elsewhere',
        'send each client through one frontend, or give the Service externalTrafficPolicy: Cluster',
      ];
    case 'unknown':
      return [
        'no full list or set explains them',
        'compare the clients with violations (clients[].violations in the JSON) with pod restarts and rule changes at those times',
      ];
  }
}

/** Open connections that a rollout's new pods never get, or pods that hold none while others hold many. */
function connectionFindings(s: ServiceReport, who: string): Finding[] {
  const next =
    'long-lived connections do not move: cap their age (gRPC MAX_CONNECTION_AGE, keep-alive limits) or restart the clients';
  const p = s.predatingConnections;
  if (p?.text)
    return [{ kind: 'predatingConnections', service: who, count: p.predating, text: `${who}: ${p.text}`, next }];
  const open = s.liveConnections ?? 0;
  const idle = s.backends.filter((b) => b.liveConnections === 0);
  if (idle.length === 0 || open < s.backends.length) return [];
  return [
    {
      kind: 'idleBackends',
      service: who,
      count: idle.length,
      text: `${who}: ${idle.length} of ${s.backends.length} backends hold no open connection while the others hold ${open}`,
      next,
    },
  ];
}

function skewFinding(s: ServiceReport, who: string): Finding {
  const hot = [...s.backends].sort((a, b) => b.share - a.share)[0];
  const hotText = hot ? `, busiest ${hot.pod ?? hot.backend} with ${(hot.share * 100).toFixed(0)}%` : '';
  return {
    kind: 'spreadSkewed',
    service: who,
    count: s.spreadVerdict.n,
    text: `${who}: spread ${s.spreadVerdict.text}${hotText}`,
    next:
      s.affinity.mode === 'ClientIP'
        ? 'ClientIP affinity pins busy clients: see the busiest clients, and whether every node lists the same endpoints'
        : `check that every node lists the same endpoints (${slicesCommand(s)}) and for clients reusing connections`,
  };
}

function reportFindings(r: Report): Finding[] {
  const out: Finding[] = [];
  if (r.lostEvents > 0)
    out.push({
      kind: 'lostEvents',
      count: r.lostEvents,
      text: `${plural(r.lostEvents, 'event')} lost: counts here are low by up to that many`,
      next: "raise the agents' --ringbuf-bytes, or follow fewer Services (--service) so no subscriber falls behind",
    });
  out.push(...zonelessFinding(r));
  for (const m of r.window.missing)
    out.push({
      kind: 'nodeMissing',
      count: 1,
      text: `node ${m.node} not reporting from ${m.start} to ${m.end}${m.ongoing ? ' (still down)' : ''}`,
      next: `its selections then are not counted: check its agent pod (kubectl get pods -o wide --field-selector spec.nodeName=${m.node})`,
    });
  const rejected = r.rejectedEvents;
  if (rejected.total > 0) {
    const reasons = Object.entries(rejected.reasons)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    out.push({
      kind: 'rejectedEvents',
      count: rejected.total,
      text: `${plural(rejected.total, 'event')} rejected (${reasons})`,
      next: "a clock off (timeTooEarly, timeTooLate: check the nodes' NTP) or an agent of another version: compare versions",
    });
  }
  return out;
}

/** `kubectl get endpointslices -n NS -l kubernetes.io/service-name=NAME` for a named Service. */
function slicesCommand(s: ServiceReport): string {
  const m = s.name ? /^([^/]+)\/([^:]+)/.exec(s.name) : null;
  return m
    ? `kubectl get endpointslices -n ${m[1]} -l kubernetes.io/service-name=${m[2]}`
    : 'kubectl get endpointslices -A';
}
