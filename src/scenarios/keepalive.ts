// keepalive-uneven-spread.md: three "router" pods call a 3-pod Service with HTTP keep-alive (curl reusing one
// connection), then without it (Connection: close). kube-proxy balances connections, not requests: with keep-alive each
// router's one connection pins all its requests to one pod, so pods can sit idle.
import { defaultConfig, type LabConfig, type ProxySetup, type LabServiceSpec } from '../lab/config.js';
import { readBackendLogs } from '../lab/traffic.js';
import type { BackendLogLine } from '../lab/traffic-types.js';
import type { Lab } from '../lab/lab.js';
import type { Report } from '../report/types.js';
import {
  conntrackEntries,
  countBy,
  curlRepeated,
  setByteCounters,
  type ConntrackEntry,
  type CurlAnswer,
} from './netns-tools.js';
import { maxOverMean, num, podOf, selectionsByPod, serviceIn, table } from './format.js';
import type { Scenario, ScenarioContext } from './types.js';
import { httpUrl } from './family.js';
import { isLate, lateAnswer, lateLookAt, observeLate, openEarly, type LateEvidence } from './keepalive-late.js';

export const KEEPALIVE = 'lab/backend-keepalive:http';
export const CLOSE = 'lab/backend-close:http';
const REQUESTS_PER_SECOND = 20;

interface KeepalivePhase {
  service: string;
  /** When the phase's clients started (ISO): backend log lines from then on belong to it. */
  startedAt: string;
  keepAlive: boolean;
  /** curl's answers by router (client name). */
  answers: Record<string, CurlAnswer[]>;
  /** The node's conntrack entries for the Service after the phase, with bytes. */
  conntrack: ConntrackEntry[];
}

export interface KeepaliveEvidence {
  phases: KeepalivePhase[];
  backendLogs: BackendLogLine[];
  /** `--late-start`: the only phase, its connections open before the agents started. */
  late?: LateEvidence;
}

function config(setup: ProxySetup): LabConfig {
  const c = defaultConfig(setup);
  c.clients = 3;
  c.externalClients = 0;
  const web = c.services.find((s) => s.name === 'web')!;
  const svc = (name: string, ip: string): LabServiceSpec => ({ ...structuredClone(web), name, clusterIP: ip });
  // One Deployment behind two Services, one per phase, so the report keeps the phases apart.
  c.services = [svc('backend-keepalive', '10.96.0.10'), svc('backend-close', '10.96.0.11')];
  return c;
}

async function phase(ctx: ScenarioContext, service: string, keepAlive: boolean): Promise<KeepalivePhase> {
  const { lab } = ctx;
  const s = lab.services.find((x) => x.serviceName === service)!;
  const count = Math.max(5, Math.round((ctx.phaseMs / 1000) * REQUESTS_PER_SECOND));
  ctx.say(
    `keepalive: ${count} requests from each of ${lab.clients.length} routers to ${service} ${keepAlive ? 'on one keep-alive connection each' : 'each on its own connection'}`,
  );
  const url = httpUrl(s.clusterIP, s.port);
  const startedAt = new Date().toISOString();
  const runs = lab.clients.map((c) =>
    curlRepeated(c.netns, url, { count, perSecond: REQUESTS_PER_SECOND, close: !keepAlive, signal: ctx.signal }),
  );
  const answers = Object.fromEntries((await Promise.all(runs)).map((a, i) => [lab.clients[i]!.name, a]));
  return {
    service,
    startedAt,
    keepAlive,
    answers,
    conntrack: await conntrackEntries(lab.nodes[0]!, 'tcp', s.clusterIP),
  };
}

function phaseLines(lab: Lab, report: Report, p: KeepalivePhase): string[] {
  const pods = lab.backends.map((b) => b.name);
  const all = Object.values(p.answers).flat();
  const requests = countBy(all, (a) => a.pod);
  const bytes = countBy(
    p.conntrack,
    (e) => podOf(lab, e.backend),
    (e) => e.bytes,
  );
  const s = serviceIn(report, p.service);
  const conns = selectionsByPod(lab, s);
  const idle = pods.filter((pod) => !(requests.get(pod) ?? 0));
  return [
    `${p.keepAlive ? 'With' : 'Without'} keep-alive (${p.service}, ${s?.service ?? 'not in the report'}):`,
    ...table(
      ['pod', 'connections (report)', 'requests (curl)', 'bytes (conntrack)'],
      pods.map((pod) => [pod, conns.get(pod) ?? 0, requests.get(pod) ?? 0, bytes.get(pod) ?? 0]),
    ),
    `  maxOverMean by connections ${num(s?.spread.maxOverMean)} (chi2P ${num(s?.spread.chi2P, 3)}), by requests ${num(maxOverMean(pods, requests))}, by bytes ${num(maxOverMean(pods, bytes))}; idle pods: ${idle.join(', ') || 'none'}`,
  ];
}

function verdict(ev: KeepaliveEvidence): string {
  const ka = ev.phases[0];
  if (!ka) return 'No traffic ran.';
  const answers = Object.values(ka.answers).flat();
  const used = new Set(answers.map((a) => a.pod)).size;
  const conns = new Set(answers.map((a) => a.local)).size;
  return (
    `With keep-alive, ${conns} connections carried all ${answers.length} requests and ${used} of 3 pods served them` +
    `${used < 3 ? ` (${3 - used} idle)` : ' (this time each router landed on a different pod: chance 2/9)'}; bytes and requests follow connections.`
  );
}

export const keepalive: Scenario<KeepaliveEvidence> = {
  name: 'keepalive',
  seed: 'keepalive-uneven-spread.md',
  summary:
    '3 routers with HTTP keep-alive to a 3-pod Service, then without: connection-level balancing leaves pods idle',
  defaultPhaseMs: 10_000,
  lateStart: true,
  config,
  async prepare(ctx) {
    // Byte counts per conntrack entry: the kernel's own measure of load per pod (new connections only: set first).
    await setByteCounters(ctx);
    if (ctx.lateStart) openEarly(ctx, KEEPALIVE, REQUESTS_PER_SECOND);
  },
  async traffic(ctx) {
    if (ctx.lateStart) {
      const late = await observeLate(ctx);
      return { phases: [], backendLogs: late.backendLogs, late };
    }
    const phases = [await phase(ctx, KEEPALIVE, true)];
    if (!ctx.signal.aborted) phases.push(await phase(ctx, CLOSE, false));
    return { phases, backendLogs: await readBackendLogs(ctx.lab) };
  },
  lookAt: (lab) =>
    isLate(lab)
      ? lateLookAt(lab)
      : `Three router pods (c1-c3) call one 3-pod Deployment: first through ${KEEPALIVE} with HTTP keep-alive ` +
        `(each router's curl reuses one connection), then through ${CLOSE} with a new connection per request. ` +
        `The node picks a pod per connection, never per request: watch ${KEEPALIVE} get one selection per router ` +
        `and pods with no selection at all (the chance that all three routers land on different pods is 2/9), ` +
        `while ${CLOSE} gets one selection per request and an even spread. The answer compares connections (the ` +
        `report), requests (curl's answers) and bytes (the node's conntrack accounting) per pod.`,
  answer: (report, ev, lab) =>
    ev.late ? lateAnswer(report, ev.late, lab) : [...ev.phases.flatMap((p) => phaseLines(lab, report, p)), verdict(ev)],
};
