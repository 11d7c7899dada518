// Name prefixes unique to one run, for the namespaces and files that run creates.
import { randomBytes } from 'node:crypto';

/** A short name prefix unique to one run, so two runs never share namespaces or files. */
export function runPrefix(stem = 'ss'): string {
  return `${stem}${randomBytes(3).toString('hex')}`;
}
