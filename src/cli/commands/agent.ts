// `stickyscope agent`: the probe on one node, its events served over gRPC to any number of subscribers.
import { LIVE_HELP, liveFlagOptions, liveNote, parseLiveFlags } from '../live-flags.js';
import {
  libbpfLines,
  parse,
  parseCount,
  parseDuration,
  parseHostPort,
  parseRingBufferBytes,
  shutdownSignal,
  VERBOSE_HELP,
  verboseOption,
  type Command,
} from '../command.js';
import { UsageError } from '../../core/errors.js';
import { printable } from '../../core/text.js';
import { ATTACH_HELP, parseAttachMode } from '../../probe/attach-mode.js';

export const command: Command = {
  usage: `Usage: stickyscope agent [--netns PATH] [--listen HOST:PORT] [--node-name NAME] [--ready-file F] [options]

Runs the probe on one node and serves its events over gRPC (proto/stickyscope.proto)
to any number of subscribers (record, report, tui). Flows are named from the node's
kube-proxy rules, re-read when 'nft monitor' announces a change (every second with
iptables-legacy, without nft, or with --rules-poll): iptables mode (iptables-save -t nat)
or nftables mode (nft -j list table ip kube-proxy), whichever the node has. The rules'
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
  ${VERBOSE_HELP}
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
  --rules-poll         re-read the rules every second instead of on the changes
                       'nft monitor' announces (costs a read of every rule each second)
  --pods FILE          pod names by backend address, {"pods": {"10.1.1.2": "ns/pod"}}, for
                       nodes without the Kubernetes API (the lab writes one); re-read on change
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
      pods: { type: 'string' },
      'rules-poll': { type: 'boolean' },
      ...liveFlagOptions,
      ...verboseOption,
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
    const { hostname } = await import('node:os');
    const node = values['node-name'] ?? hostname();
    const { agentTls } = await import('../agent-tls.js');
    const tls = await agentTls(values, listen, node);
    if (values.pods !== undefined) {
      // A wrong path or shape is said at once, not as a warning after the probe started.
      const { parsePodNames, readPodsFile } = await import('../../agent/pod-names.js');
      parsePodNames(readPodsFile(values.pods), values.pods);
    }
    const { runAgent } = await import('../../agent/run.js');
    const options = {
      ...{ node, netns: values.netns, listen, attach, metricsListen, limits, maxServices, summaryPeriodMs },
      ...{ ringBufferBytes, tls, readyFile: values['ready-file'], onLibbpf: libbpfLines(values.verbose) },
      podsFile: values.pods,
      live: parseLiveFlags(values),
      onNote: liveNote,
      rulesPoll: values['rules-poll'],
      onWarning: (m: string) => process.stderr.write(`stickyscope agent: warning: ${printable(m)}\n`),
    };
    await runAgent(options, shutdownSignal());
    return 0;
  },
};
