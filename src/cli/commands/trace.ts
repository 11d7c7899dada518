// `stickyscope trace`: the probe's selections, translations and conntrack inserts printed live.
import {
  libbpfLines,
  parse,
  parseOutputFormat,
  parseRingBufferBytes,
  shutdownSignal,
  VERBOSE_HELP,
  verboseOption,
  type Command,
} from '../command.js';
import type { StickyEvent } from '../../core/event.js';
import { ATTACH_HELP, attachSummary, parseAttachMode } from '../../probe/attach-mode.js';
import { LIVE_HELP, liveFlagOptions, parseLiveFlags, printLiveNotes } from '../live-flags.js';

export const command: Command = {
  usage: `Usage: stickyscope trace [--netns PATH] [-o text|jsonl] [options]

Prints, live, every backend selection the node's NAT makes (dnat), every source
translation (snat: the address the backend sees) and every new conntrack entry
(insert), like 'conntrack -E' but from BPF, without losing events silently; and
the connections to Services already open (open), their ends (close) and bytes
(traffic), from the conntrack table.
Runs until Ctrl-C, then detaches and prints what was still buffered.

Options:
  --netns PATH         network namespace of the node (default: this one), e.g. /run/netns/lab-node
  -o, --output F       text: one readable line per event (default); jsonl: one JSON object per line
                       (docs/design.md's export format); --format F also works
  --node-name NAME     node name written into events (default: the hostname)
  ${ATTACH_HELP}
  --no-insert          leave out insert events (dnat and snat only)
  --ringbuf-bytes N    ring buffer size, a power of two (default 8 MiB)
  ${VERBOSE_HELP}
  ${LIVE_HELP}
  -h, --help           this text

Needs root, and Linux >= 6.4 for netfilter links, else fentry or kprobes
('stickyscope doctor' checks and says which mode this kernel gets).`,

  async run(argv) {
    const { values } = parse(argv, {
      netns: { type: 'string' },
      output: { type: 'string', short: 'o' },
      format: { type: 'string' },
      'node-name': { type: 'string' },
      'no-insert': { type: 'boolean', default: false },
      'ringbuf-bytes': { type: 'string' },
      attach: { type: 'string' },
      ...verboseOption,
      ...liveFlagOptions,
    });
    const format = parseOutputFormat(values, ['text', 'jsonl'] as const, 'text');
    const ringBufferBytes = parseRingBufferBytes(values['ringbuf-bytes']);
    const attach = parseAttachMode(values.attach);
    const live = parseLiveFlags(values);
    const { hostname } = await import('node:os');
    const { startProbe } = await import('../../probe/probe.js');
    const { eventToJsonLine, eventToText } = await import('../../core/event-json.js');
    const write = (events: StickyEvent[]) => {
      let out = '';
      for (const e of events) out += (format === 'jsonl' ? eventToJsonLine(e) : eventToText(e)) + '\n';
      if (out) process.stdout.write(out);
    };

    // Also fires when stdout breaks: a closed pipe (trace | head) is an ordinary way to stop reading.
    const stop = shutdownSignal();
    const probe = startProbe({
      node: values['node-name'] ?? hostname(),
      netns: values.netns,
      ringBufferBytes,
      insertEvents: !values['no-insert'],
      attach,
      onLibbpf: libbpfLines(values.verbose),
      ...live,
    });
    probe.on('events', write);
    printLiveNotes(probe);
    const failed = new Promise<never>((_, reject) => probe.on('error', reject));
    failed.catch(() => {});
    await Promise.race([probe.ready, failed]);
    process.stderr.write(
      `tracing${values.netns ? ' ' + values.netns : ''}, ${attachSummary(probe, attach !== undefined)}; Ctrl-C stops\n`,
    );
    await Promise.race([new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true })), failed]);
    await probe.stop();
    return 0;
  },
};
