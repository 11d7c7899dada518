// Scenario of udp-affinity-tester.md: UDP clients (two pods, three masqueraded external clients) each keep one socket
// sending steadily to a Service with ClientIP affinity and to one without, across a node scale-up that flushes the
// Services' conntrack entries.
import { longSleep } from '../core/long-timer.js';
import { defaultConfig, type LabConfig, type ProxySetup, type LabServiceSpec } from '../lab/config.js';
import { type Lab, setEndpoints } from '../lab/lab.js';
import { readBackendLogs, runClient } from '../lab/traffic.js';
import type { BackendLogLine, ClientResult } from '../lab/traffic-types.js';
import { runIn } from './netns-tools.js';
import { podOf, serviceIn, table } from './format.js';
import type { Scenario } from './types.js';
import { backendIp, clientIp, familyOfLab } from './family.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from '../core/event.js';

export const STICKY = 'default/affinity-tester:stun';
export const PLAIN = 'default/affinity-tester-none:stun';
const INTERVAL_MS = 100;

export interface UdpSessionEvidence {
  /** Every datagram's echo, by flow (client and service). */
  results: ClientResult[];
  /** The conntrack flush ran between these times (ISO): echoes in between may be on either side. */
  flush: { start: string; end: string };
  backendLogs: BackendLogLine[];
}

function config(setup: ProxySetup): LabConfig {
  const c = defaultConfig(setup);
  c.clients = 2;
  c.externalClients = 3;
  c.backends.push({ name: 'b4', node: 'node' }); // the pod the scale-up adds
  const dns = c.services.find((s) => s.protocol === 'udp')!;
  const svc = (name: string, ip: string, affinity: boolean): LabServiceSpec => ({
    ...structuredClone(dns),
    namespace: 'default',
    name,
    portName: 'stun',
    clusterIP: ip,
    port: 3478,
    endpoints: dns.endpoints.slice(0, 3),
    sessionAffinity: affinity ? 'ClientIP' : 'None',
    timeoutSeconds: affinity ? DEFAULT_AFFINITY_TIMEOUT_SECONDS : undefined,
  });
  c.services = [svc('affinity-tester', '10.96.0.40', true), svc('affinity-tester-none', '10.96.0.41', false)];
  return c;
}

/**
 * When a datagram was sent. Its echo may be read well after the flush on a loaded machine while it was answered through
 * the old entry, so echoes are put on a side of the flush by when their datagram left, not when the answer was read.
 */
export function sentAt(r: ClientResult): string {
  return new Date(Date.parse(r.ts) - r.ms).toISOString();
}

/** Per flow: pod and the address the pod saw, before and after the flush, from the echoes. */
export function flowChanges(
  results: ClientResult[],
  flush: { start: string; end: string },
): { client: string; service: string; before: ClientResult; after: ClientResult }[] {
  const flows = new Map<string, ClientResult[]>();
  for (const r of results)
    if (r.answer) flows.set(`${r.client} ${r.service}`, [...(flows.get(`${r.client} ${r.service}`) ?? []), r]);
  return [...flows.values()].flatMap((rs) => {
    const before = rs.filter((r) => sentAt(r) < flush.start).at(-1);
    const after = rs.find((r) => sentAt(r) > flush.end);
    return before && after ? [{ client: before.client, service: before.service, before, after }] : [];
  });
}

/** Waits (at most `maxMs`) until the backends have logged `n` distinct UDP peers: one per flow. */
async function untilEveryFlowAnswered(lab: Lab, n: number, maxMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!signal.aborted && Date.now() < deadline) {
    const peers = new Set((await readBackendLogs(lab)).filter((l) => l.proto === 'udp').map((l) => l.peer));
    if (peers.size >= n) return;
    await longSleep(100, signal);
  }
}

/**
 * The scale-up adds an endpoint and flushes the node's conntrack entries for the Services, so every flow gets a new
 * entry: without affinity its pod may change (backendChanged); for external clients the new masquerade picks a new
 * source port (reflectiveChanged), with or without affinity.
 */
export const udpSession: Scenario<UdpSessionEvidence> = {
  name: 'udp-session',
  seed: 'udp-affinity-tester.md',
  summary:
    'UDP sessions through a node scale-up (endpoint added, conntrack flushed): backendChanged, reflectiveChanged',
  defaultPhaseMs: 10_000,
  config,
  async traffic(ctx) {
    const { lab } = ctx;
    const count = Math.max(10, Math.round(ctx.phaseMs / INTERVAL_MS));
    ctx.say(
      `udp-session: ${lab.clients.length} clients, one socket per Service each, a datagram every ${INTERVAL_MS} ms for ${(count * INTERVAL_MS) / 1000} s`,
    );
    const flows = lab.clients.flatMap((c) =>
      [STICKY, PLAIN].map((service) =>
        runClient(
          lab,
          c.name,
          { service, mode: 'udp-flow', count, intervalMs: INTERVAL_MS, timeoutMs: 500 },
          ctx.signal,
        ),
      ),
    );
    await longSleep((count * INTERVAL_MS) / 2, ctx.signal);
    // On a loaded machine the clients' processes may still be starting at half time: flush only once every flow has
    // been answered, so that each has a side before the flush.
    await untilEveryFlowAnswered(lab, flows.length, count * INTERVAL_MS, ctx.signal);
    const flush = { start: new Date().toISOString(), end: '' };
    if (!ctx.signal.aborted) {
      const b4 = lab.backends.find((b) => b.name === 'b4')!;
      for (const name of [STICKY, PLAIN]) {
        const s = lab.services.find((x) => x.serviceName === name)!;
        await setEndpoints(lab, name, [
          ...s.endpoints,
          { ip: backendIp(lab, b4), port: s.endpoints[0]!.port, pod: b4.name, node: 'node' },
        ]);
      }
      flush.start = new Date().toISOString();
      for (const name of [STICKY, PLAIN]) {
        await runIn(lab.nodes[0]!, 'conntrack', [
          '-D',
          '-f',
          familyOfLab(lab) === 'IPv6' ? 'ipv6' : 'ipv4',
          '-p',
          'udp',
          '--orig-dst',
          lab.services.find((x) => x.serviceName === name)!.clusterIP,
        ]).catch(() => '');
      }
      flush.end = new Date().toISOString();
      ctx.say('udp-session: scale-up: b4 added to both Services, their conntrack entries flushed');
    }
    const results = (await Promise.all(flows)).flat();
    return { results, flush: { ...flush, end: flush.end || flush.start }, backendLogs: await readBackendLogs(lab) };
  },
  lookAt: () =>
    `Five UDP clients (pods c1, c2; external x1-x3, masqueraded by the node) each hold one socket to ${STICKY} ` +
    `(ClientIP affinity) and one to ${PLAIN} (none) and send a datagram every ${INTERVAL_MS} ms, like the affinity ` +
    `tester. Halfway, a scale-up: pod b4 joins both Services and the node's conntrack entries for them are flushed. ` +
    `Every flow gets a new entry. Watch the event log: backendChanged for flows of ${PLAIN} re-picked onto ` +
    `another pod, reflectiveChanged for the external clients on both Services (the new masquerade takes a new ` +
    `source port, which is what the pod sees; now and then a pod client too, when an echo in flight at the flush ` +
    `made an entry of its own that the client's new one must not clash with). Affinity keeps the pod, not the address.`,
  answer(report, ev, lab) {
    const lines: string[] = [];
    const changes = flowChanges(ev.results, ev.flush);
    for (const name of [STICKY, PLAIN]) {
      const s = serviceIn(report, name);
      const u = s?.udpContinuity;
      lines.push(
        `${name} (${s?.service ?? 'not in the report'}), affinity ${s?.affinity.mode ?? '-'}: ${u?.replacements ?? 0} entries replaced, backendChanged ${u?.backendChanged ?? 0}, reflectiveChanged ${u?.reflectiveChanged ?? 0}`,
      );
      lines.push(
        ...table(
          ['client', 'picks (report)', 'pod (echo)', 'address the pod saw (echo)'],
          lab.clients.map((c) => {
            const picks = s?.clients.find((x) => x.client === clientIp(lab, c))?.backends ?? {};
            const f = changes.find((x) => x.client === c.name && x.service === name);
            const pod = f
              ? f.before.answer === f.after.answer
                ? `${f.before.answer} kept`
                : `${f.before.answer} -> ${f.after.answer}`
              : '-';
            const seen = f
              ? f.before.seen === f.after.seen
                ? `${f.before.seen} kept`
                : `${f.before.seen} -> ${f.after.seen}`
              : '-';
            return [
              `${c.name} ${clientIp(lab, c)}`,
              Object.entries(picks)
                .map(([b, n]) => `${podOf(lab, b)} x${n}`)
                .join(', ') || '-',
              pod,
              seen,
            ];
          }),
        ),
      );
    }
    return lines;
  },
};
