// The flags of the live connections (the conntrack table the probe helper reads), shared by `agent` and `trace`.
import { UsageError } from '../core/errors.js';
import type { Probe, ProbeOptions } from '../probe/probe.js';
import { parseDuration } from './command.js';

export const liveFlagOptions = {
  'conntrack-sweep': { type: 'string' },
  'no-conntrack': { type: 'boolean', default: false },
} as const;

export const LIVE_HELP = `--conntrack-sweep D  how often the node's conntrack table is read again for the open connections'
                       bytes and the ends no destroy message told (1s to 1h; default 10s, longer where
                       walking the table would take more than 0.8% of a core)
  --no-conntrack       follow new connections only: no open, close, traffic or sweep events`;

export function parseLiveFlags(values: {
  'conntrack-sweep'?: string;
  'no-conntrack'?: boolean;
}): Pick<ProbeOptions, 'liveConnections' | 'conntrackSweepMs'> {
  const text = values['conntrack-sweep'];
  if (text === undefined) return { liveConnections: !values['no-conntrack'] };
  if (values['no-conntrack']) throw new UsageError('--conntrack-sweep and --no-conntrack cannot be given together');
  const ms = parseDuration(text, '--conntrack-sweep');
  if (ms < 1000 || ms > 3_600_000) throw new UsageError(`--conntrack-sweep expects 1s to 1h; got '${text}'`);
  return { liveConnections: true, conntrackSweepMs: Math.round(ms) };
}

/**
 * The helper's notes about live connections (byte counters unavailable, the table unreadable) on stderr as they come:
 * what an SRE needs to read the figures. Attach-mode notes are summarised elsewhere (attach-mode.ts).
 */
export function printLiveNotes(probe: Probe): void {
  probe.on('note', liveNote);
}

export function liveNote(note: string): void {
  if (!note.startsWith('attach mode ')) process.stderr.write(`note: ${note}\n`);
}
