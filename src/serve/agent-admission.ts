// Which agents `serve` follows: every one it is given (the --agent list and, with --k8s,
// those discovered as they come), each admitted by the client's TLS rule first
// (plaintext only on loopback without --insecure). The agents given at start must all
// pass (a refused one is an error); one that joins later and fails is said once and
// left out.
import type { AgentDirectory } from '../protocol/client.js';

export interface AgentSet {
  addresses(): string[];
  onChange(cb: (addresses: string[]) => void): () => void;
}

/** `check` throws for addresses that may not be followed (UsageError: ClientSecurity.check). */
export function admittedAgents(
  all: AgentSet,
  check: (addresses: string[]) => void,
  nodes: () => Record<string, string>,
  onWarning: (message: string) => void,
): AgentDirectory {
  check(all.addresses());
  const refused = new Set<string>();
  const allowed = (list: string[]) =>
    list.filter((a) => {
      try {
        check([a]);
        return true;
      } catch (err) {
        if (!refused.has(a)) onWarning(`not following ${a}: ${(err as Error).message}`);
        refused.add(a);
        return false;
      }
    });
  return {
    addresses: () => allowed(all.addresses()),
    onChange: (cb) => all.onChange(() => cb(allowed(all.addresses()))),
    nodes,
  };
}
