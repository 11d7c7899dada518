// The --attach flag of trace and agent, and the one line that says how the probe attached
// (which mode, and why auto mode skipped the ones before it).
import { UsageError } from '../core/errors.js';
import { ATTACH_MODES, type AttachMode } from './record-layout.js';

/** undefined (auto: the helper picks) for no flag or 'auto'. */
export function parseAttachMode(text: string | undefined): AttachMode | undefined {
  if (text === undefined || text === 'auto') return undefined;
  if ((ATTACH_MODES as readonly string[]).includes(text)) return text as AttachMode;
  throw new UsageError(`--attach expects ${ATTACH_MODES.join(', ')} or auto; got '${text}'`);
}

export const ATTACH_HELP = `--attach MODE        netfilter (links at the NAT hooks, Linux >= 6.4), fentry (fentry/fexit on
                       __nf_conntrack_confirm), kprobe (kprobe/kretprobe there), or auto (default:
                       the first of these the kernel has)`;

/** e.g. "attached with kprobe (forced)" or "attached with fentry (auto; netfilter unavailable: ...)". */
export function attachSummary(
  probe: { attachMode: AttachMode | undefined; notes: readonly string[] },
  forced: boolean,
): string {
  const why = probe.notes.filter((n) => n.startsWith('attach mode '));
  return `attached with ${probe.attachMode ?? 'an unknown mode'} (${forced ? 'forced' : ['auto', ...why].join('; ')})`;
}
