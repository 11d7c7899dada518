// What `serve` knows of each agent it follows: up or down and why, whether it was ever
// subscribed (readiness), and the counters its latest Info reported.
import type { AgentStatus } from '../protocol/agent-connection.js';
import type { AgentInfo } from '../protocol/wire.js';

export interface AgentEntry {
  address: string;
  node: string;
  up: boolean;
  /** Subscribed at least once since it joined. */
  everUp: boolean;
  reason?: string;
  info?: AgentInfo;
}

export class AgentBook {
  private readonly entries = new Map<string, AgentEntry>();

  /** The agents to follow now: new ones are added not yet up, those gone are forgotten. */
  follow(addresses: readonly string[]): void {
    const keep = new Set(addresses);
    for (const a of this.entries.keys()) if (!keep.has(a)) this.entries.delete(a);
    for (const a of keep)
      if (!this.entries.has(a)) this.entries.set(a, { address: a, node: a, up: false, everUp: false });
  }

  status(s: AgentStatus): void {
    if (s.state === 'removed') {
      this.entries.delete(s.address);
      return;
    }
    const e = this.entries.get(s.address);
    if (!e) return;
    e.node = s.node;
    e.up = s.state === 'up';
    if (e.up) e.everUp = true;
    e.reason = s.reason;
  }

  info(address: string, info: AgentInfo): void {
    const e = this.entries.get(address);
    if (e) e.info = info;
  }

  list(): AgentEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  /**
   * Ready: every known agent was subscribed once (a start-up that has not reached them all
   * would serve a partial cluster as whole) and at least one is up now. Not "all up": in a
   * cluster some agent is always restarting (a DaemonSet rollout, a node drained), and
   * taking serve out of its Service then would hide the very series (agent_up 0, the
   * report's missing windows) that say which one; with none up, every figure is stale.
   */
  readiness(): { ready: true; why: string } | { ready: false; why: string } {
    const known = this.list();
    if (known.length === 0) return { ready: false, why: 'no agents known yet' };
    const named = (es: AgentEntry[]) => es.map((a) => `${a.address}${a.reason ? ` (${a.reason})` : ''}`).join('; ');
    const waiting = known.filter((e) => !e.everUp);
    if (waiting.length > 0)
      return { ready: false, why: `waiting for ${waiting.length} of ${known.length} agent(s): ${named(waiting)}` };
    const up = known.filter((e) => e.up);
    if (up.length === 0) return { ready: false, why: `no agent up of ${known.length}: ${named(known)}` };
    return { ready: true, why: `${up.length} of ${known.length} agent(s) up` };
  }
}
