// session-affinity-handson-ja.md: ClientIP affinity with timeoutSeconds 5 and a curl loop from one pod, with pauses
// shorter and longer than the timeout. Pauses under 5 s keep the pod (held); after a longer pause the entry has expired
// and the node picks again at random (expired, and moved 2 times in 3).
import { defaultConfig, type LabConfig, type ProxySetup } from '../lab/config.js';
import { readBackendLogs } from '../lab/traffic.js';
import type { BackendLogLine } from '../lab/traffic-types.js';
import { curlOnce, type CurlAnswer } from './netns-tools.js';
import { num, podOf, serviceIn, table } from './format.js';
import type { Scenario } from './types.js';
import { httpUrl } from './family.js';

export const SAMPLE = 'handson/sample-clusterip:http-port';
export const TIMEOUT_SECONDS = 5;
const SHORT_PAUSE_MS = 1000;
const LONG_PAUSE_MS = 7000;
const PER_BURST = 3;

interface TimedAnswer extends CurlAnswer {
  /** The pause before this request (ms); null for the first. */
  pauseMs: number | null;
}

export interface AffinityTimeoutEvidence {
  answers: TimedAnswer[];
  backendLogs: BackendLogLine[];
}

function config(setup: ProxySetup): LabConfig {
  const c = defaultConfig(setup);
  c.clients = 1;
  c.externalClients = 0;
  const web = c.services.find((s) => s.name === 'web')!;
  c.services = [
    {
      ...web,
      namespace: 'handson',
      name: 'sample-clusterip',
      portName: 'http-port',
      clusterIP: '10.96.0.20',
      sessionAffinity: 'ClientIP',
      timeoutSeconds: TIMEOUT_SECONDS,
    },
  ];
  return c;
}

/** Bursts of requests 1 s apart, with 7 s between bursts; about 10 s per burst. Generated, as a long phase has millions. */
function* pauses(phaseMs: number): Generator<number | null> {
  yield null; // the first request waits for nothing
  const bursts = Math.max(2, Math.round(phaseMs / 10_000));
  for (let b = 0; b < bursts; b++)
    for (let i = 0; i < PER_BURST; i++) if (b + i > 0) yield i === 0 ? LONG_PAUSE_MS : SHORT_PAUSE_MS;
}

export const affinityTimeout: Scenario<AffinityTimeoutEvidence> = {
  name: 'affinity-timeout',
  seed: 'session-affinity-handson-ja.md',
  summary: 'ClientIP affinity with a 5 s timeout and a curl loop: held pairs within it, re-picks after it',
  defaultPhaseMs: 40_000,
  config,
  async traffic(ctx) {
    const { lab } = ctx;
    const svc = lab.services[0]!;
    const url = httpUrl(svc.clusterIP, svc.port, '/podinfo');
    const c1 = lab.clients[0]!;
    const answers: TimedAnswer[] = [];
    for (const pauseMs of pauses(ctx.phaseMs)) {
      if (pauseMs !== null) await new Promise((r) => setTimeout(r, pauseMs));
      if (ctx.signal.aborted) break;
      const a = await curlOnce(c1.netns, url, ctx.signal);
      if (a) {
        answers.push({ ...a, pauseMs });
        ctx.say(`affinity-timeout: ${pauseMs === null ? 'first request' : `after ${pauseMs / 1000} s`}: ${a.pod}`);
      }
    }
    return { answers, backendLogs: await readBackendLogs(lab) };
  },
  lookAt: (lab) =>
    `One pod (c1) runs curl against ${SAMPLE} (sessionAffinity ClientIP, timeoutSeconds ${TIMEOUT_SECONDS}): ` +
    `bursts of ${PER_BURST} requests ${SHORT_PAUSE_MS / 1000} s apart, with ${LONG_PAUSE_MS / 1000} s of silence between bursts. ` +
    `Each curl is a new connection, so each is a selection. Within a burst the gap is under the timeout and the ` +
    `pick must repeat (held); across a pause the client's ${lab.config.proxyMode === 'nftables' ? 'affinity set element' : 'xt_recent entry'} has expired and the node picks again ` +
    `at random (expired; it moves to another pod 2 times in 3). Watch the Service's affinity column: compliance ` +
    `stays at 100% and expired re-picks are counted apart from violations.`,
  answer(report, ev, lab) {
    const s = serviceIn(report, SAMPLE);
    const v = s?.affinityVerdicts;
    const sequence = ev.answers
      .map((a) => `${a.pauseMs === null ? '' : a.pauseMs > TIMEOUT_SECONDS * 1000 ? ' || ' : ' '}${a.pod}`)
      .join('');
    return [
      `${SAMPLE} (${s?.service ?? 'not in the report'}): affinity ${s?.affinity.mode ?? '-'} timeout ${s?.affinity.timeoutSeconds ?? '-'} s (from ${s?.affinity.source ?? '-'})`,
      `  curl answers (|| marks a ${LONG_PAUSE_MS / 1000} s pause): ${sequence.trim()}`,
      ...table(
        ['verdict', 'pairs'],
        [
          ['held (gap <= 5 s, same pod)', v?.held ?? 0],
          ['violation', v?.violation ?? 0],
          ['expired (gap > 5 s)', v?.expired ?? 0],
          ['  of which moved', v?.expiredMoved ?? 0],
        ],
      ),
      `  compliance ${num(v?.compliance)}; per pod: ${(s?.backends ?? []).map((b) => `${podOf(lab, b.backend)} ${b.selections}`).join(', ')}`,
    ];
  },
};
