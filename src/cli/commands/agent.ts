// `stickyscope agent`: the probe on one node, its events served over gRPC to any number of subscribers.
import { printable } from '../../core/text.js';
import {
  parse,
  parseCount,
  parseDuration,
  parseHostPort,
  parseRingBufferBytes,
  shutdownSignal,
  type Command,
} from '../command.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError, InputError, UsageError } from '../../core/errors.js';
import { ATTACH_HELP, attachSummary, parseAttachMode } from '../../probe/attach-mode.js';
import { LIVE_HELP, liveFlagOptions, parseLiveFlags, printLiveNotes } from '../live-flags.js';
import type { AgentTlsFiles } from '../../protocol/tls.js';

export const command: Command = {
  usage: `Usage: stickyscope agent [--netns PATH] [--listen HOST:PORT] [--node-name NAME] [--ready-file F] [options]

Runs the probe on one node and serves its events over gRPC (proto/stickyscope.proto)
to any number of subscribers (record, report, tui). Flows are named from the node's
kube-proxy rules, re-read every second: iptables mode (iptables-save -t nat) or
nftables mode (nft -j list table ip kube-proxy), whichever the node has. The rules'
Service catalog is sent at start and whenever it changes, and clients evicted from full
xt_recent affinity lists are reported. A subscriber that falls behind is told what it
lost; it never slows the probe or the other subscribers. A client gets no more than
its share: subscription filters of at most 1024 entries per list, requests of at most
64 KiB, pings at least 5 s apart; each limit hit is refused with a gRPC status, counted
in Info and logged (once a minute per kind).
Runs until SIGINT/SIGTERM, then ends the streams and detaches.

Options:
  --netns PATH         network namespace of the node (default: this one), e.g. /run/netns/lab-node
  --listen HOST:PORT   where to serve (default 127.0.0.1:7390; port 0 picks a free one)
  --node-name NAME     node name written into events (default: the hostname)
  --ready-file F       once attached and listening, write the bound HOST:PORT to F (removed at exit)
  --max-subscribers N  subscribers served at once (default 16); the next is refused
                       with RESOURCE_EXHAUSTED
  --stall-timeout D    cut a subscriber that reads nothing while its queue overflows
                       for this long (default 30s)
  --ringbuf-bytes N    ring buffer size, a power of two (default 8 MiB)
  ${ATTACH_HELP}
  --tls-cert FILE      serve mutual TLS only: this node's certificate (it must name
                       NODE.agent.stickyscope.local, NODE being --node-name), with
  --tls-key FILE       its private key, and
  --tls-client-ca FILE the CA whose client certificates are accepted (no others are).
                       The three files are re-read every 10 s: a rotated certificate
                       serves new connections, open streams go on ('stickyscope certs'
                       makes them)
  --tls-dir DIR        the three from one directory (a mounted Secret): NODE.crt and
                       NODE.key if there ('stickyscope certs'), else tls.crt and
                       tls.key (cert-manager); ca.crt the client CA
  --insecure           serve plaintext on an address other than loopback
  --metrics HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics: records by
                       type, ring buffer losses, subscribers, conntrack counters, and how
                       full each affinity (xt_recent) list is; and this node's per-Service
                       and per-backend counts, summable over nodes in PromQL (selections,
                       consecutive picks and those that kept their backend, verdicts,
                       violation causes, UDP continuity; distinct clients estimated)
  --metrics-max-services N  at most N Services in those series, those with the most
                       selections; the rest are counted (default 500)
  --summary-period D   how often SubscribeSummaries subscribers get a summary (default 2s)
  ${LIVE_HELP}
  -h, --help           this text

Without TLS the agent serves loopback only: its stream names every client of the node
and it answers anyone who connects.

Needs root, and Linux >= 6.4 for netfilter links, else fentry or kprobes
('stickyscope doctor' checks and says which mode this kernel gets).`,

  async run(argv) {
    const { values } = parse(argv, {
      netns: { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:7390' },
      'node-name': { type: 'string' },
      'ready-file': { type: 'string' },
      'ringbuf-bytes': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-client-ca': { type: 'string' },
      'tls-dir': { type: 'string' },
      insecure: { type: 'boolean' },
      'max-subscribers': { type: 'string', default: '16' },
      'stall-timeout': { type: 'string', default: '30s' },
      attach: { type: 'string' },
      metrics: { type: 'string' },
      'metrics-max-services': { type: 'string', default: '500' },
      'summary-period': { type: 'string', default: '2s' },
      ...liveFlagOptions,
    });
    const attach = parseAttachMode(values.attach);
    const listen = parseHostPort(values.listen, '--listen');
    const metricsListen = values.metrics === undefined ? undefined : parseHostPort(values.metrics, '--metrics');
    const limits = {
      maxSubscribers: parseCount(values['max-subscribers'], '--max-subscribers', 1, 10_000),
      stallTimeoutMs: parseDuration(values['stall-timeout'], '--stall-timeout'),
    };
    const maxServices = parseCount(values['metrics-max-services'], '--metrics-max-services', 1, 1_000_000);
    const summaryPeriodMs = parseDuration(values['summary-period'], '--summary-period');
    if (summaryPeriodMs < 100 || summaryPeriodMs > 60_000)
      throw new UsageError(`--summary-period expects 100ms to 60s; got '${values['summary-period']}'`);
    const ringBufferBytes = parseRingBufferBytes(values['ringbuf-bytes']);
    const live = parseLiveFlags(values);
    const { hostname } = await import('node:os');
    const node = values['node-name'] ?? hostname();
    const tls = await agentTls(values, listen, node);
    const { rm, rename } = await import('node:fs/promises');
    const { fileError, writeTextFile } = await import('../../core/file-errors.js');
    const { startProbe } = await import('../../probe/probe.js');
    const { startAgent } = await import('../../agent/agent.js');
    const readyFile = values['ready-file'];

    const stop = shutdownSignal();
    const stopped = new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
    // Nothing downstream of the agent reads insert records (backend selections are dnat,
    // what the backend sees is snat); leaving them out halves the records per flow.
    const probe = startProbe({ node, netns: values.netns, ringBufferBytes, insertEvents: false, attach, ...live });
    printLiveNotes(probe);
    const failed = new Promise<never>((_, reject) => {
      probe.on('error', reject);
      probe.on('exit', () => reject(new EnvironmentError('the probe helper exited while the agent was running')));
    });
    failed.catch(() => {});
    let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
    let metrics: import('../../agent/metrics.js').AgentMetrics | undefined;
    try {
      await Promise.race([probe.ready, failed, stopped]);
      if (stop.aborted) return 0;
      const { agentCredentials } = await import('../../protocol/tls.js');
      agent = await startAgent(probe, {
        node,
        listen,
        credentials: tls
          ? await agentCredentials(tls, node, undefined, (m) =>
              process.stderr.write(`stickyscope agent: warning: ${printable(m)}\n`),
            )
          : undefined,
        netns: values.netns,
        limits,
        summaryPeriodMs,
        // Its summable metrics are the reducer's counts; without --metrics it waits for a summary subscriber.
        summarizeFromStart: metricsListen !== undefined,
        xtRecentDir: probe.pid === undefined ? undefined : `/proc/${probe.pid}/net/xt_recent`,
        attachPoints: [...probe.attachPoints],
        onWarning: (m) => process.stderr.write(`stickyscope agent: warning: ${m}\n`),
      }).catch((err: Error) => {
        throw new EnvironmentError(err.message);
      });
      let metricsAt = '';
      if (metricsListen) {
        const { createAgentMetrics } = await import('../../agent/metrics.js');
        const { listenHttp } = await import('../../core/http-listen.js');
        metrics = createAgentMetrics({
          node,
          probe,
          server: agent.server,
          recent: agent.recent,
          summarizer: agent.summarizer,
          maxServices,
          attachPoints: [...probe.attachPoints],
        });
        metricsAt = `, metrics on http://${await listenHttp(metrics.http, metricsListen).catch((err: Error) => {
          throw new EnvironmentError(err.message);
        })}/metrics`;
      }
      if (readyFile) {
        // Written whole or not at all: a watcher polling for it never reads half an address.
        await writeTextFile(`${readyFile}.tmp`, `${agent.address}\n`, 'write the ready file');
        await rename(`${readyFile}.tmp`, readyFile).catch((err) => {
          throw fileError(err, 'write the ready file', readyFile, 'write');
        });
      }
      process.stderr.write(
        `agent ${node} serving ${tls ? 'mutual TLS' : 'plaintext'} on ${agent.address}${values.netns ? ' for ' + values.netns : ''}${metricsAt}, ${attachSummary(probe, attach !== undefined)}; SIGINT/SIGTERM stops\n`,
      );
      await Promise.race([stopped, failed]);
      return 0;
    } finally {
      if (metrics) {
        metrics.detach();
        await (await import('../../core/http-listen.js')).closeHttp(metrics.http);
      }
      await agent?.stop();
      await probe.stop();
      if (readyFile) await rm(readyFile, { force: true });
    }
  },
};

/**
 * The TLS flags, checked before anything starts: all three or none; none only on
 * loopback unless --insecure says plaintext elsewhere is meant.
 */
async function agentTls(
  values: { 'tls-cert'?: string; 'tls-key'?: string; 'tls-client-ca'?: string; 'tls-dir'?: string; insecure?: boolean },
  listen: string,
  node: string,
): Promise<AgentTlsFiles | undefined> {
  const flags = ['tls-cert', 'tls-key', 'tls-client-ca'] as const;
  const given = flags.filter((f) => values[f] !== undefined);
  const { checkAgentTls, isLoopback } = await import('../../protocol/tls.js');
  const dir = values['tls-dir'];
  if (dir !== undefined) {
    if (given.length > 0) throw new UsageError(`give --tls-dir or --${given[0]} and the like, not both`);
    if (values.insecure) throw new UsageError('give either --tls-dir or --insecure, not both');
    const files = tlsDirFiles(dir, node);
    checkAgentTls(files, node);
    return files;
  }
  if (given.length === 0) {
    if (!values.insecure && !isLoopback(listen))
      throw new UsageError(
        `refusing to serve plaintext on ${listen}: the stream carries client addresses; give --tls-cert, --tls-key and --tls-client-ca, or --insecure`,
      );
    return undefined;
  }
  if (given.length < 3)
    throw new UsageError(
      `TLS needs --tls-cert, --tls-key and --tls-client-ca together; got only ${given.map((f) => `--${f}`).join(', ')}`,
    );
  if (values.insecure) throw new UsageError('give either the --tls-* files or --insecure, not both');
  const files = { cert: values['tls-cert']!, key: values['tls-key']!, clientCa: values['tls-client-ca']! };
  checkAgentTls(files, node);
  return files;
}

/** A Secret's files: the node's own pair ('stickyscope certs') before a shared tls.crt/tls.key (cert-manager). */
function tlsDirFiles(dir: string, node: string): AgentTlsFiles {
  const clientCa = join(dir, 'ca.crt');
  if (existsSync(join(dir, `${node}.crt`)))
    return { cert: join(dir, `${node}.crt`), key: join(dir, `${node}.key`), clientCa };
  if (existsSync(join(dir, 'tls.crt'))) return { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), clientCa };
  throw new InputError(
    `--tls-dir ${dir} has neither ${node}.crt nor tls.crt; expected the Secret 'stickyscope certs' makes (NODE.crt, NODE.key, ca.crt, with a pair for node ${node}) or cert-manager's (tls.crt, tls.key, ca.crt)`,
  );
}
