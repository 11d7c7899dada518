// The report as one self-contained HTML page: inline CSS and SVG drawn here, no
// external resource. A small inline script checks that the charts rendered and marks
// the page (body data-rendered="ok"), so a headless browser can tell a good page.
import { refusalText } from '../aggregator/refused.js';
import type { MissingSpan, Report, ServiceReport } from './types.js';
import type { SelectionTimeline } from './html-timeline.js';
import { clientChart, shareChart, stickinessChart, verdictChart } from './html-charts.js';
import { timelineChart } from './html-timeline-chart.js';
import { findingsOf } from './findings.js';
import { css } from './html-style.js';
import { count, esc, num, pct } from './html-svg.js';
import { topologyHtml } from './html-topology.js';
import { parseIsoMicros } from '../core/event.js';
import { FINDINGS_SHOWN, rejectedText, spanText } from './render-markdown.js';

export interface HtmlOptions {
  /** Busiest clients drawn per service (default 12). */
  maxClients?: number;
}

export function renderHtml(report: Report, timeline: SelectionTimeline, opts: HtmlOptions = {}): string {
  const w = report.window;
  const start = parseIsoMicros(w.start);
  const end = parseIsoMicros(w.end);
  const title =
    report.services.length === 1
      ? (report.services[0]!.name ?? report.services[0]!.service)
      : `${report.services.length} services`;
  // What made the report, where from and the exact span, first: a pasted page must say what it covers.
  const meta = [
    ...(report.command ? [`<span class="command"><b>Command</b> <code>${esc(report.command)}</code></span>`] : []),
    `<span><b>Nodes</b> ${report.nodes.length ? esc(report.nodes.join(', ')) : 'none'}</span>`,
    `<span><b>${esc(spanText(report)[0])}</b> ${esc(spanText(report)[1])}</span>`,
    ...(w.recording ? [`<span><b>Recording</b> ${esc(w.recording.start)} to ${esc(w.recording.end)}</span>`] : []),
    `<span class="${report.lostEvents > 0 ? 'alert' : ''}"><b>Lost events</b> ${count(report.lostEvents)}</span>`,
    `<span class="${report.rejectedEvents.total > 0 ? 'alert' : ''}"><b>Rejected events</b> ${esc(rejectedText(report.rejectedEvents))}</span>`,
    ...w.missing.map(
      (m) =>
        `<span class="alert">node ${esc(m.node)} missing ${esc(m.start)} to ${esc(m.end)}${m.ongoing ? ' (still down)' : ''}</span>`,
    ),
  ];
  const sections = report.services.map((s, i) =>
    idle(s) ? idleCard(s, i) : serviceSection(s, i, timeline, w.missing, start, end, opts.maxClients ?? 12),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>stickyscope: ${esc(title)}</title><style>${css}</style></head>
<body data-rendered="pending">
<header class="top"><h1>Which backend did each client get?</h1><div class="meta">${meta.join('')}</div></header>
<main>
${findingsCard(report)}
${report.services.length ? summary(report.services) : '<div class="card empty">No service selections in this window.</div>'}
${sections.join('\n')}
<footer>stickyscope report · spread, stickiness and session affinity per Service, from the node's own NAT decisions</footer>
</main>
<script>${check}</script>
</body></html>
`;
}

function summary(services: ServiceReport[]): string {
  const rows = services.map((s, i) => {
    const st = s.stickiness;
    return `<tr><td><a href="#svc-${i}">${esc(s.name ?? s.service)}</a></td><td class="mono">${esc(s.service)}</td><td>${esc(affinityText(s))}</td>
<td class="num">${count(s.selections)}</td><td class="num">${s.backends.length}${s.noEndpoints ? ` <span class="explain">${esc(refusalText(s.noEndpoints.mode, s.backends.length))}</span>` : ''}</td><td class="num">${num(s.spread.maxOverMean)}</td>
<td class="num">${pct(st.ratio)} <span class="explain">vs ${pct(st.expectedRandom, 0)}</span></td><td class="num">${pct(s.affinityVerdicts.compliance)}</td>${violationCell(s)}</tr>`;
  });
  return `<div class="card"><h2>Services</h2><table class="summary"><thead><tr><th>Service</th><th>Address</th><th>Affinity</th>
<th class="num">Selections</th><th class="num">K</th><th class="num">max/mean</th><th class="num">Stickiness</th><th class="num">Compliance</th><th class="num">Violations</th></tr></thead>
<tbody>${rows.join('')}</tbody></table></div>`;
}

/** Violations and their main cause, red where there are any; '-' for a Service without affinity. */
function violationCell(s: ServiceReport): string {
  const v = s.affinityVerdicts;
  if (s.affinity.mode !== 'ClientIP' && v.violation === 0) return '<td class="num">-</td>';
  const causes = Object.entries(v.violationCauses).filter(([, n]) => n > 0);
  causes.sort((a, b) => b[1] - a[1]);
  const why = causes.map(([c, n]) => (causes.length > 1 ? `${c} ${count(n)}` : c)).join(', ');
  return `<td class="num${v.violation > 0 ? ' bad' : ''}" data-violations="${v.violation}">${count(v.violation)}${why ? ` <span class="explain">${esc(why)}</span>` : ''}</td>`;
}

/** The findings, each with its next step, before any table: what an incident channel needs from the page. */
function findingsCard(report: Report): string {
  const findings = report.findings ?? findingsOf(report);
  const items = findings
    .slice(0, FINDINGS_SHOWN)
    .map(
      (f) =>
        `<li data-finding="${esc(f.kind)}"${f.cause ? ` data-cause="${esc(f.cause)}"` : ''}>${esc(f.text)}; <span class="next">${esc(f.next)}</span></li>`,
    );
  if (findings.length > FINDINGS_SHOWN)
    items.push(`<li class="explain">${count(findings.length - FINDINGS_SHOWN)} more in the JSON report.</li>`);
  const body = items.length
    ? `<ul class="findings">${items.join('')}</ul>`
    : '<p class="explain">None: no affinity violation, skewed spread, refused Service, lost event or missing node.</p>';
  return `<div class="card" id="findings"><h2>Findings</h2>${body}</div>`;
}

/** A Service nothing selected in the span (an idle ClusterIP): one line, not a card of empty charts. */
const idle = (s: ServiceReport) => s.selections === 0 && !(s.liveConnections ?? 0);

function idleCard(s: ServiceReport, i: number): string {
  const k = s.backends.length;
  const refused = s.noEndpoints ? `; ${refusalText(s.noEndpoints.mode, k)} on ${s.noEndpoints.nodes.join(', ')}` : '';
  return `<section class="card idle" id="svc-${i}" data-service="${esc(s.service)}" data-idle="true"><b>${esc(s.name ?? s.service)}</b> <span class="key mono">${esc(s.service)}</span> no selections in this span${k ? `, ${k} backend${k === 1 ? '' : 's'} never picked` : ''}${esc(refused)}.</section>`;
}

function affinityText(s: ServiceReport): string {
  const a = s.affinity;
  return a.mode === 'ClientIP' ? `ClientIP${a.timeoutSeconds !== null ? `, ${a.timeoutSeconds} s` : ''}` : 'None';
}

function serviceSection(
  s: ServiceReport,
  i: number,
  timeline: SelectionTimeline,
  missing: MissingSpan[],
  start: number,
  end: number,
  maxClients: number,
): string {
  const v = s.affinityVerdicts;
  const st = s.stickiness;
  const affinity = s.affinity.mode === 'ClientIP';
  const badges = serviceBadges(s);
  const tiles = serviceTiles(s);
  const keys = s.frontends?.map((f) => f.address) ?? s.addresses ?? s.service;
  const series = timeline.series(keys, start, end);
  const causes =
    v.violation > 0
      ? `<p class="explain">Violation causes: ${count(v.violationCauses.listFull)} client entries evicted from a full xt_recent list (listFull), ${count(v.violationCauses.setFull)} clients a full nftables affinity set never pinned (setFull), ${count(v.violationCauses.crossFrontend)} pinned elsewhere through another frontend of the Service port (crossFrontend), ${count(v.violationCauses.unknown)} unknown.</p>`
      : '';
  const pending =
    v.pending > 0
      ? `<p class="explain">${count(v.pending)} re-picks pending: the node's rules at the pick are not read yet, so whether the old backend had gone is not known.</p>`
      : '';
  const sets = s.affinitySets.length
    ? `<p class="explain">Affinity sets (elements / size): ${s.affinitySets.map((a) => esc(`${a.node} ${a.endpoint} ${a.elements}/${a.size} (${pct(a.fill)}, peak ${a.peakElements})`)).join('; ')}.</p>`
    : '';
  const verdictNote = affinity
    ? `Consecutive selections of one client within ${s.affinity.timeoutSeconds ?? '?'} s should keep the backend. ${count(v.expiredMoved)} of ${count(v.expired)} expired pairs moved.`
    : 'This Service has no session affinity, so every new connection is a free pick; verdicts are shown for reference.';
  return `<section class="card" id="svc-${i}" data-service="${esc(s.service)}">
<h2>${esc(s.name ?? s.service)}<span class="key mono">${esc((s.frontends?.map((f) => `${f.address} (${f.selections})`) ?? s.addresses ?? [s.service]).join('  '))}</span></h2>
<div class="badges">${badges}</div>
<div class="tiles">${tiles}</div>
<h3>Spread: share of selections per backend</h3>
${shareChart(s)}
${liveHtml(s)}
${topologyHtml(s)}
<h3>Stickiness: consecutive selections of a client that kept its backend</h3>
<p class="explain">${count(st.sameBackend)} of ${count(st.pairs)} pairs kept the backend. Random choice among ${s.backends.length} backends would keep ${pct(st.expectedRandom)}.</p>
${stickinessChart(s)}
<h3>Selections over time</h3>
${timelineChart(s, series, missing, timeline.changes(keys, start, end))}
<h3>Session affinity verdicts</h3>
<p class="explain">${esc(verdictNote)}</p>
${verdictChart(s)}
${causes}${pending}
${sets}
<h3>Busiest clients</h3>
${s.clients.length ? clientChart(s, maxClients) : '<p class="empty">No clients.</p>'}
${s.clients.length > maxClients ? `<p class="explain">${count(s.clients.length - maxClients)} more clients in the JSON report.</p>` : ''}
</section>`;
}

/** What stands out about a Service before its charts: its affinity, refusals, divergence, UDP replacements. */
function serviceBadges(s: ServiceReport): string {
  return [
    `<span class="badge affinity">sessionAffinity ${esc(affinityText(s))} (from ${esc(s.affinity.source)})</span>`,
    s.noEndpoints
      ? `<span class="badge warn">${esc(refusalText(s.noEndpoints.mode, s.backends.length))} on ${esc(s.noEndpoints.nodes.join(', '))}</span>`
      : '',
    s.nodeDivergence.clients > 0
      ? `<span class="badge warn">${count(s.nodeDivergence.clients)} clients got different backends on different nodes</span>`
      : '',
    s.udpContinuity
      ? `<span class="badge">UDP: ${count(s.udpContinuity.replacements)} entries replaced, ${count(s.udpContinuity.backendChanged)} changed backend, ${count(s.udpContinuity.reflectiveChanged)} changed reflective address</span>`
      : '',
  ].join('');
}

/** The Service's headline figures, coloured only where a verdict found something. */
function serviceTiles(s: ServiceReport): string {
  const v = s.affinityVerdicts;
  const skewed = s.spreadVerdict.verdict === 'skewed';
  return [
    tile('selections', count(s.selections)),
    ...(s.families ? [tile('IPv4 / IPv6', `${count(s.families.ipv4)} / ${count(s.families.ipv6)}`)] : []),
    tile('backends (K)', String(s.backends.length)),
    // Colour only what the verdict found: max/mean of 4 pinned clients' selections is no finding.
    tile('max / mean', num(s.spread.maxOverMean), skewed && (s.spread.maxOverMean ?? 0) > 1.5 ? 'bad' : ''),
    tile("Jain's fairness", num(s.spread.jain, 3)),
    tile('spread', s.spreadVerdict.text, skewed ? 'bad' : s.spreadVerdict.verdict === 'uniform' ? 'good' : ''),
    tile('stickiness', pct(s.stickiness.ratio)),
    s.affinity.mode === 'ClientIP'
      ? tile(
          'affinity compliance',
          pct(v.compliance),
          v.compliance === null ? '' : v.compliance >= 0.999 ? 'good' : 'bad',
        )
      : '',
  ].join('');
}

/** Connections open now per backend and the bytes they carried: where the load is, whoever selected it. */
function liveHtml(s: ServiceReport): string {
  if (s.liveConnections === undefined || !s.loadSpread) return '';
  const l = s.loadSpread;
  const predate = s.predatingConnections?.text
    ? `<p class="explain"><span class="badge warn">${esc(s.predatingConnections.text)}</span> Their pods get nothing until clients reconnect.</p>`
    : '';
  const rows = s.backends
    .map(
      (b) =>
        `<tr><td class="mono">${esc(b.backend)}</td><td class="num">${count(b.liveConnections ?? 0)}</td><td class="num">${b.bytes == null ? 'n/a' : count(b.bytes)}</td><td class="num">${b.bytesPerSecond == null ? 'n/a' : count(Math.round(b.bytesPerSecond))}</td><td class="num">${b.oldestConnectionSeconds == null ? '-' : `${count(Math.round(b.oldestConnectionSeconds))} s`}</td></tr>`,
    )
    .join('');
  const verdict = (x: typeof l.bytes) =>
    x ? `${esc(x.verdict)} (max/mean ${num(x.maxOverMean)})` : 'bytes not counted';
  return `<h3>Load now: ${count(s.liveConnections)} open connections</h3>
${predate}
<p class="explain">Spread by new connections: ${verdict(l.selections)}; by open connections: ${verdict(l.liveConnections)}; by bytes: ${verdict(l.bytes)}.</p>
<table class="summary" data-table="live"><thead><tr><th>Backend</th><th class="num">Open now</th><th class="num">Bytes</th><th class="num">Bytes/s</th><th class="num">Oldest open</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

function tile(label: string, value: string, tone = ''): string {
  return `<div class="tile ${tone}"><div class="v">${esc(value)}</div><div class="k">${esc(label)}</div></div>`;
}

/** Runs in the page: every service has its four charts, and drawn bar widths agree with the counts. */
const check = `(function () {
  var problems = [];
  try {
    var sections = document.querySelectorAll('section[data-service]:not([data-idle])');
    for (var i = 0; i < sections.length; i++) {
      var sec = sections[i], name = sec.getAttribute('data-service');
      ['share', 'stickiness', 'timeline', 'verdicts'].forEach(function (c) {
        if (!sec.querySelector('svg[data-chart="' + c + '"]')) problems.push(name + ': no ' + c + ' chart');
      });
      // No bar's figures may cross the dashed 1/K line.
      var fair = sec.querySelector('[data-chart="share-fair-line"]');
      var labels = sec.querySelectorAll('[data-chart="share-label"]');
      for (var l = 0; fair && l < labels.length; l++) {
        var box = labels[l].getBBox(), fx = Number(fair.getAttribute('x1'));
        if (box.x < fx + 1 && box.x + box.width > fx - 1) problems.push(name + ': label "' + labels[l].textContent + '" crosses the 1/K line');
      }
      var bars = sec.querySelectorAll('[data-chart="share-bar"], [data-chart="timeline-bar"], [data-chart="verdict-segment"]');
      for (var j = 0; j < bars.length; j++) {
        var picked = Number(bars[j].getAttribute('data-selections') || bars[j].getAttribute('data-count')) > 0;
        if (picked !== bars[j].getBBox().width > 0) problems.push(name + ': ' + bars[j].getAttribute('data-chart') + ' drawn ' + bars[j].getBBox().width + ' wide');
      }
    }
  } catch (e) { problems.push(String(e && e.message || e)); }
  document.body.setAttribute('data-rendered', problems.length ? 'error: ' + problems.join('; ') : 'ok');
})();`;
