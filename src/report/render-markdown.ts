// The report as Markdown: the same figures as the JSON, as tables a person reads.
// Every string from the events goes through md(): a crafted name must neither reach a
// terminal (cat report.md) as control characters nor break a table or add markup.
import { refusalText } from '../aggregator/refused.js';
import { printable } from '../core/text.js';
import type { Report, ServiceReport } from './types.js';

export interface MarkdownOptions {
  /** Client rows shown per service; the rest are counted (default 50). */
  maxClients?: number;
}

export function renderMarkdown(report: Report, opts: MarkdownOptions = {}): string {
  const maxClients = opts.maxClients ?? 50;
  const w = report.window;
  const out: string[] = ['# stickyscope report', ''];
  out.push(`- ${spanText(report).join(': ')}`);
  if (w.recording) out.push(`- Recording: ${w.recording.start} to ${w.recording.end}`);
  out.push(`- Nodes: ${report.nodes.length ? report.nodes.map(md).join(', ') : 'none'}`);
  out.push(`- Lost events: ${report.lostEvents}`);
  out.push(`- Rejected events: ${rejectedText(report.rejectedEvents)}`);
  out.push(
    `- Entries evicted to bound memory: ${report.evictions.idle} idle, ${report.evictions.capacity} over capacity, ${report.evictions.services} selections of Services past the Services limit, ${report.evictions.openViolations} violations settled before their cause could be`,
  );
  for (const m of w.missing)
    out.push(`- Missing: node ${md(m.node)} from ${m.start} to ${m.end}${m.ongoing ? ' (still down)' : ''}`);
  out.push('');
  if (report.services.length === 0) out.push('No services seen.', '');
  for (const s of report.services) out.push(...serviceSection(s, maxClients));
  return out.join('\n');
}

/** ["Events counted (last 60 s)", "FIRST to LAST"], or that none was. */
export function spanText(report: Report): [string, string] {
  const w = report.window;
  const scope = w.scope === 'window' ? `last ${w.seconds} s` : 'cumulative';
  const cut = w.truncated ? ' (shortened: too many selections to keep)' : '';
  const none = w.start === EPOCH && w.end === EPOCH;
  return [`Events counted (${scope})`, none ? 'none' : `${w.start} to ${w.end}${cut}`];
}

const EPOCH = '1970-01-01T00:00:00.000000Z';

/** "0", or "3 (timeTooLate 2, badAddress 1)". */
export function rejectedText(r: Report['rejectedEvents']): string {
  const reasons = Object.entries(r.reasons).filter(([, n]) => n > 0);
  return r.total === 0 ? '0' : `${r.total} (${reasons.map(([k, n]) => `${k} ${n}`).join(', ')})`;
}

function serviceSection(s: ServiceReport, maxClients: number): string[] {
  const a = s.affinity;
  const v = s.affinityVerdicts;
  const out = [`## ${md(s.service)}${s.name ? ` (${md(s.name)})` : ''}`, ''];
  out.push(
    `Affinity: ${md(a.mode)}${a.timeoutSeconds !== null ? `, timeout ${a.timeoutSeconds} s` : ''} (from ${md(a.source)}). Selections: ${s.selections}.`,
    '',
  );
  if (s.noEndpoints)
    out.push(
      `Refused by kube-proxy: ${refusalText(s.noEndpoints.mode, s.backends.length)} on ${s.noEndpoints.nodes.map(md).join(', ')}.`,
      '',
    );
  if (s.frontends)
    out.push(
      `Frontends (selections through each address): ${s.frontends.map((f) => `${md(f.address)} ${f.selections}`).join(', ')}.`,
      '',
    );
  if (s.addresses && s.families)
    out.push(
      `Addresses: ${s.addresses.map(md).join(', ')}. Selections by family: IPv4 ${s.families.ipv4}, IPv6 ${s.families.ipv6}.`,
      '',
    );
  out.push(
    table(
      ['Backend', 'Selections', 'Share', 'Clients'],
      s.backends.map((b) => [
        md((b.addresses ?? [b.backend]).join(' ') + (b.pod ? ` (${b.pod})` : '')),
        String(b.selections),
        pct(b.share),
        String(b.clients),
      ]),
    ),
  );
  // The verdict, not the selections' chi-square p: under affinity those are not independent.
  out.push(`Spread: ${md(s.spreadVerdict.text)}.`, '');
  out.push(table(['maxOverMean', 'cv', 'Jain'], [[num(s.spread.maxOverMean), num(s.spread.cv), num(s.spread.jain)]]));
  out.push(
    table(
      ['Pairs', 'Same backend', 'Stickiness', 'Expected if random'],
      [
        [
          String(s.stickiness.pairs),
          String(s.stickiness.sameBackend),
          num(s.stickiness.ratio),
          num(s.stickiness.expectedRandom),
        ],
      ],
    ),
  );
  out.push(
    table(
      [
        'Held',
        'Violation',
        'listFull',
        'setFull',
        'crossFrontend',
        'unknown',
        'Forced re-pick',
        'Pending',
        'Expired (moved)',
        'Compliance',
      ],
      [
        [
          String(v.held),
          String(v.violation),
          String(v.violationCauses.listFull),
          String(v.violationCauses.setFull),
          String(v.violationCauses.crossFrontend),
          String(v.violationCauses.unknown),
          String(v.forcedRepick),
          String(v.pending),
          `${v.expired} (${v.expiredMoved})`,
          num(v.compliance),
        ],
      ],
    ),
  );
  if (s.affinitySets.length > 0) {
    out.push(
      table(
        ['Node', 'Affinity set of', 'Elements', 'Size', 'Fill', 'Peak'],
        s.affinitySets.map((a) => [
          md(a.node),
          md(a.endpoint),
          String(a.elements),
          String(a.size),
          num(a.fill),
          String(a.peakElements),
        ]),
      ),
    );
  }
  if (s.nodeDivergence.clients > 0) {
    out.push(`Clients whose backend differs between nodes: ${s.nodeDivergence.clients}`, '');
    out.push(
      table(
        ['Client', 'Backend by node'],
        s.nodeDivergence.examples.map((e) => [
          md(e.client),
          Object.entries(e.backends)
            .map(([n, b]) => `${md(n)}: ${md(b)}${e.via ? ` via ${md(e.via[n] ?? '?')}` : ''}`)
            .join(', '),
        ]),
      ),
    );
  }
  out.push(...liveSection(s));
  if (s.udpContinuity) {
    const u = s.udpContinuity;
    out.push(
      table(
        ['UDP entries replaced', 'Backend changed', 'Reflective address changed'],
        [[String(u.replacements), String(u.backendChanged), String(u.reflectiveChanged)]],
      ),
    );
  }
  const live = s.liveConnections !== undefined;
  const backendsText = (r: Record<string, number>) =>
    Object.entries(r)
      .map(([b, n]) => `${md(b)}: ${n}`)
      .join(', ');
  const rows = s.clients
    .slice(0, maxClients)
    .map((c) => [
      md(c.client),
      String(c.selections),
      backendsText(c.backends),
      num(c.stickiness),
      ...(live ? [`${c.liveConnections ?? 0}${c.liveBackends ? ` (${backendsText(c.liveBackends)})` : ''}`] : []),
      c.nodes.map(md).join(', '),
    ]);
  out.push(
    table(['Client', 'Selections', 'Backends', 'Stickiness', ...(live ? ['Open connections'] : []), 'Nodes'], rows),
  );
  if (s.clients.length > maxClients) out.push(`(${s.clients.length - maxClients} more clients in the JSON report)`, '');
  return out;
}

/** Connections open now per backend, the bytes they carried, and the spread of load three ways. */
function liveSection(s: ServiceReport): string[] {
  if (s.liveConnections === undefined || !s.loadSpread) return [];
  const out = [`Open connections now: ${s.liveConnections}.`, ''];
  if (s.predatingConnections?.text)
    out.push(`**${md(s.predatingConnections.text)}** (joined ${s.predatingConnections.joined}).`, '');
  out.push(
    table(
      ['Backend', 'Open now', 'Bytes', 'Bytes/s', 'Oldest open'],
      s.backends.map((b) => [
        md(b.backend),
        String(b.liveConnections ?? 0),
        b.bytes == null ? 'n/a' : String(b.bytes),
        b.bytesPerSecond == null ? 'n/a' : b.bytesPerSecond.toFixed(0),
        b.oldestConnectionSeconds == null ? '-' : `${b.oldestConnectionSeconds.toFixed(0)} s`,
      ]),
    ),
  );
  const l = s.loadSpread;
  const row = (what: string, x: NonNullable<typeof l.bytes> | null) =>
    x
      ? [what, num(x.maxOverMean), num(x.cv), num(x.jain), num(x.chi2P), x.verdict]
      : [what, 'n/a', 'n/a', 'n/a', 'n/a', 'bytes not counted'];
  out.push(
    table(
      ['Load measured by', 'maxOverMean', 'cv', 'Jain', 'chi2 p', 'Verdict'],
      [row('new connections', l.selections), row('open connections', l.liveConnections), row('bytes', l.bytes)],
    ),
  );
  return out;
}

/** Cells are already md() text: escaping them again here would double the backslashes. */
function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line), ''].join('\n');
}

/**
 * Text from the events as inline Markdown: controls escaped by printable(), then every
 * character that could end a table cell (|), open a code span (`), emphasis, a link,
 * raw HTML or an entity (&#27; would become ESC again in HTML) backslash-escaped.
 */
function md(s: string): string {
  return printable(s).replace(/[\\`*_[\]<>|&~]/g, '\\$&');
}

function num(x: number | null): string {
  return x === null ? 'n/a' : Number.isInteger(x) ? String(x) : x.toFixed(3);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
