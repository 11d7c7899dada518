// `--service S` (repeatable) on tui, record and report: asks the agents for one Service's flows only. The entries
// go to the agents' Subscribe filter as given, so each agent drops the other Services' flows before sending them.
import { isIP } from 'node:net';
import { UsageError } from '../core/errors.js';
import { printable } from '../core/text.js';

/** As many as an agent's filter takes (src/protocol/event-filter.ts). */
const MAX_SERVICES = 1024;

export const serviceOption = { service: { type: 'string', multiple: true } } as const;

export function serviceUsage(width: number): string {
  return `  ${'--service S'.padEnd(width - 2)}only this Service's flows (repeatable; agents filter at the source): ip:port/proto,
  ${''.padEnd(width - 2)}[v6]:port/proto, or namespace/name[:port] (matched by each agent against its own catalog)`;
}

const label = '[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?';
const nameRe = new RegExp(`^${label}/${label}(:${label})?$`);
const addressRe = /^(\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d{1,5})\/(tcp|udp|sctp)$/;

/** True for "ip:port/proto", "[v6]:port/proto" and "ns/name[:port]", the shapes the agents' filter matches. */
export function isServiceSpec(s: string): boolean {
  const m = addressRe.exec(s);
  if (m) {
    if (Number(m[2]) > 65535) return false;
    const host = m[1]!;
    return host.startsWith('[') ? isIP(host.slice(1, -1)) === 6 : isIP(host) === 4;
  }
  return s.length <= 160 && nameRe.test(s);
}

/** The --service entries, checked; undefined when none was given (every Service). */
export function parseServices(values: { service?: string[] }): string[] | undefined {
  const list = values.service ?? [];
  if (list.length > MAX_SERVICES)
    throw new UsageError(`--service may be given at most ${MAX_SERVICES} times; got ${list.length}`);
  for (const s of list)
    if (!isServiceSpec(s))
      throw new UsageError(
        `--service expects ip:port/proto, [v6]:port/proto or namespace/name[:port] (e.g. 10.96.0.10:53/udp, default/web:http); got '${printable(s.slice(0, 200))}'`,
      );
  return list.length === 0 ? undefined : [...new Set(list)];
}
