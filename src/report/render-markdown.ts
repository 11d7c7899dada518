// The report as Markdown: the same figures as the JSON, as tables a person reads.
// Every string from the events goes through md(): a crafted name must neither reach a
// terminal (cat report.md) as control characters nor break a table or add markup.
import { refusalText } from '../aggregator/refused.js';
import { printable } from '../core/text.js';
import { findingLine, findingsOf } from './findings.js';
import type { Report, ServiceReport } from './types.js';

export interface MarkdownOptions {
  /** Client rows shown per service; the rest are counted (default 50). */
  maxClients?: number;
}

export function renderMarkdown(report: Report, opts: MarkdownOptions = {}): string {
  const maxClients = opts.maxClients ?? 50;
  const out: string[] = ['# stickyscope report', '', ...headerLines(report).map((l) => `- ${l}`), ''];
  out.push(...findingsSection(report));
  if (report.services.length === 0) out.push('No services seen.', '');
  for (const s of report.services) out.push(...serviceSection(s, maxClients));
  return out.join('\n');
}

/** What the report covers, first: the command, the nodes, the exact span; then what limits its figures. */
function headerLines(report: Report): string[] {
  const w = report.window;
  const e = report.evictions;
  const evicted = e.idle + e.capacity + e.services + e.openViolations;
  return [
    ...(report.command ? [`Command: ${md(report.command)}`] : []),
    `Nodes: ${report.nodes.length ? report.nodes.map(md).join(', ') : 'none'}`,
    spanText(report).join(': '),
    ...(w.recording ? [`Recording: ${w.recording.start} to ${w.recording.end}`] : []),
    `Lost events: ${report.lostEvents}`,
    `Rejected events: ${rejectedText(report.rejectedEvents)}`,
    // Only when something was dropped: a line of zeros is noise in an incident document.
    ...(evicted > 0
      ? [
          `Entries evicted to bound memory: ${e.idle} idle, ${e.capacity} over capacity, ${e.services} selections of Services past the Services limit, ${e.openViolations} violations settled before their cause could be`,
        ]
      : []),
    ...w.missing.map(
      (m) => `Missing: node ${md(m.node)} from ${m.start} to ${m.end}${m.ongoing ? ' (still down)' : ''}`,
    ),
  ];
}

/** Findings shown before the tables; the JSON lists them all. */
export const FINDINGS_SHOWN = 12;

function findingsSection(report: Report): string[] {
  const findings = report.findings ?? findingsOf(report);
  const out = ['## Findings', ''];
  if (findings.length === 0)
    out.push('None: no affinity violation, skewed spread, refused Service, lost event or missing node.');
  for (const f of findings.slice(0, FINDINGS_SHOWN)) out.push(`- ${md(findingLine(f))}`);
  if (findings.length > FINDINGS_SHOWN) out.push(`- (${findings.length - FINDINGS_SHOWN} more in the JSON report)`);
  out.push('');
  return out;
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
  return [
    ...serviceHead(s),
    table(
      ['Backend', 'Selections', 'Share', 'Clients'],
      s.backends.map((b) => [
        md((b.addresses ?? [b.backend]).join(' ') + (b.pod ? ` (${b.pod})` : '')),
        String(b.selections),
        pct(b.share),
        String(b.clients),
      ]),
    ),
    // The verdict, not the selections' chi-square p: under affinity those are not independent.
    `Spread: ${md(s.spreadVerdict.text)}.`,
    '',
    table(['maxOverMean', 'cv', 'Jain'], [[num(s.spread.maxOverMean), num(s.spread.cv), num(s.spread.jain)]]),
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
    verdictTable(s),
    ...topologySection(s),
    ...setsAndDivergence(s),
    ...liveSection(s),
    ...udpTable(s),
    ...clientTable(s, maxClients),
  ];
}

/** The Service's title, affinity, and what kube-proxy and its addresses say about it. */
function serviceHead(s: ServiceReport): string[] {
  const a = s.affinity;
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
  return out;
}

function verdictTable(s: ServiceReport): string {
  const v = s.affinityVerdicts;
  const c = v.violationCauses;
  return table(
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
        ...[v.held, v.violation, c.listFull, c.setFull, c.crossFrontend, c.unknown, v.forcedRepick, v.pending].map(
          String,
        ),
        `${v.expired} (${v.expiredMoved})`,
        num(v.compliance),
      ],
    ],
  );
}

/** nftables affinity sets' fill, and clients whose backend differs between nodes. */
function setsAndDivergence(s: ServiceReport): string[] {
  const out: string[] = [];
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
  return out;
}

function udpTable(s: ServiceReport): string[] {
  const u = s.udpContinuity;
  if (!u) return [];
  return [
    table(
      ['UDP entries replaced', 'Backend changed', 'Reflective address changed'],
      [[String(u.replacements), String(u.backendChanged), String(u.reflectiveChanged)]],
    ),
  ];
}

/** Per-client rows, none at all when there are no clients (summaries keep none): an empty table says nothing. */
function clientTable(s: ServiceReport, maxClients: number): string[] {
  if (s.clients.length === 0) return [];
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
  const out = [
    table(['Client', 'Selections', 'Backends', 'Stickiness', ...(live ? ['Open connections'] : []), 'Nodes'], rows),
  ];
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

/** Where the picks went in the cluster's topology, per node, beside what kube-proxy should use there. */
function topologySection(s: ServiceReport): string[] {
  const t = s.topology;
  if (!t) return [];
  const share = t.sameZoneShare === null ? '' : ` (${pct(t.sameZoneShare)})`;
  const asked = t.distribution ? `, trafficDistribution ${md(t.distribution)}` : '';
  const note = (n: (typeof t.nodes)[number]) =>
    [
      n.fallback ? md(n.fallback) : '',
      n.rules
        ? `rules differ: ${[...n.rules.missing.map((e) => `missing ${md(e)}`), ...n.rules.extra.map((e) => `extra ${md(e)}`)].join(', ')}`
        : '',
    ]
      .filter(Boolean)
      .join('; ');
  return [
    `Topology (policy ${md(t.policy)}${asked}): ${t.sameZone} of ${t.sameZone + t.crossZone} selections stayed in the node's zone${share}, ${t.crossZone} crossed zones, ${t.sameNode} stayed on the node${t.unknownZone ? `, ${t.unknownZone} in an unknown zone` : ''}.`,
    '',
    table(
      ['Node', 'Zone', 'Selections', 'Same node', 'Same zone', 'Cross zone', 'kube-proxy should use', 'Note'],
      t.nodes.map((n) => [
        md(n.node),
        n.zone === null ? 'none' : md(n.zone),
        String(n.selections),
        String(n.sameNode),
        String(n.sameZone),
        String(n.crossZone),
        expectedCell(n.expected),
        note(n),
      ]),
    ),
  ];
}

/** "PreferSameZone: 10.1.1.2:8080, 10.1.2.2:8080", "all (4 endpoints)", a long list cut after six. */
function expectedCell(e: NonNullable<ServiceReport['topology']>['nodes'][number]['expected']): string {
  if (e.mode === 'all') return `all (${e.count} endpoints)`;
  if (e.count === 0) return `${md(e.mode)}: nothing (dropped)`;
  const head = e.endpoints.slice(0, 6).map(md).join(', ');
  return `${md(e.mode)}: ${head}${e.count > 6 ? ` +${e.count - 6} more` : ''}`;
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
