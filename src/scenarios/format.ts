// Small shared pieces of the scenarios' answers: pod names for backend addresses, the
// report's service by name, and fixed-width tables.
import { printable } from '../core/text.js';
import { spreadOf } from '../aggregator/stats.js';
import { splitHostPort } from '../lab/ip-family.js';
import type { Lab } from '../lab/lab.js';
import type { Report, ServiceReport } from '../report/types.js';

/** "10.1.2.2:8080" or "[fd00:1:2::2]:8080" -> "b2" (the lab's pod), else the address. */
export function podOf(lab: Lab, backend: string): string {
  const ip = splitHostPort(backend)?.host;
  return lab.backends.find((b) => b.ip === ip || b.ip6 === ip)?.name ?? backend;
}

/** The report's entry for a Service port name, e.g. "lab/web:http". */
export function serviceIn(report: Report, name: string): ServiceReport | undefined {
  return report.services.find((s) => s.name === name);
}

/** The report's entry for a service address "ip:port/proto". */
export function serviceAt(report: Report, key: string): ServiceReport | undefined {
  return report.services.find((s) => s.service === key);
}

/** Selections per pod from a report entry, every endpoint the report lists included. */
export function selectionsByPod(lab: Lab, s: ServiceReport | undefined): Map<string, number> {
  return new Map((s?.backends ?? []).map((b) => [podOf(lab, b.backend), b.selections]));
}

/** Why a Service's bytes are null in a report, and how to get them. */
export const BYTES_UNAVAILABLE =
  'unavailable (nf_conntrack_acct is off on the node: sysctl net.netfilter.nf_conntrack_acct=1 counts the connections that begin after it)';

/** A bytes cell for a Service's answer: the figure, or "unavailable" where the report has none (acct off). */
export function bytesCell(s: ServiceReport | undefined): (n: number | undefined) => number | string {
  const counted = (s?.backends ?? []).some((b) => typeof b.bytes === 'number');
  return (n) => (counted ? (n ?? 0) : 'unavailable');
}

export function num(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined ? '-' : x.toFixed(digits);
}

/** maxOverMean of counts over `pods` (missing pods count 0). */
export function maxOverMean(pods: string[], counts: Map<string, number>): number | null {
  return spreadOf(pods.map((p) => counts.get(p) ?? 0)).maxOverMean;
}

/** Rows of cells as aligned text lines, indented. */
export function table(head: string[], rows: (string | number)[][], indent = '  '): string[] {
  const cells = [head, ...rows.map((r) => r.map((c) => printable(String(c))))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map(
    (r) =>
      indent +
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
  );
}
