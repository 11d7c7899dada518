// Which agents a `report --agent` or `record` run reached: a run that reached none fails with the reason each gave,
// instead of ending with exit 0 and an empty report or trace.
import { EnvironmentError } from '../core/errors.js';
import type { AgentStatus } from '../protocol/agent-connection.js';

export class AgentReach {
  private readonly reached = new Set<string>();
  private readonly up = new Set<string>();
  private readonly reasons = new Map<string, string>();

  note(s: AgentStatus): void {
    if (s.state === 'up') {
      this.reached.add(s.address);
      this.up.add(s.address);
    } else {
      this.up.delete(s.address);
      if (s.reason) this.reasons.set(s.address, s.reason);
    }
  }

  /** For a progress line: how many agents are up now, and while none is, why the last one is not. */
  now(total: number): string {
    if (this.up.size > 0) return this.up.size === total ? '' : `${this.up.size} of ${total} agents up`;
    const last = [...this.reasons.values()].at(-1);
    return `no agent up${last ? `: ${last}` : ' yet'}`;
  }

  /** Throws when no agent was ever up; returns the addresses never reached (for a warning) otherwise. */
  check(addresses: readonly string[], what: string): string[] {
    const never = addresses.filter((a) => !this.reached.has(a));
    if (never.length === addresses.length) {
      const why = never.map((a) => `${a}: ${this.reasons.get(a) ?? 'no answer'}`).join('; ');
      throw new EnvironmentError(`${what}: no agent was reached during the run (${why})`);
    }
    return never;
  }
}
