// Required flags of the lab's child programs (backend-server, traffic-client): the lab
// always passes them, and a missing one is named here rather than read as undefined.
import { UsageError } from '../core/errors.js';

export function requiredFlag(program: string, flag: string, value: string | undefined): string {
  if (value === undefined) throw new UsageError(`${program} expects --${flag}; it was not given`);
  return value;
}
