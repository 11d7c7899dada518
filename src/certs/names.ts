// What the agents' mutual TLS is made of, below both its users: the name an agent's
// certificate carries for its node, and the files each side reads.

/** An agent's certificate names its node as NODE.agent.stickyscope.local (a DNS SAN). */
export const AGENT_DOMAIN = 'agent.stickyscope.local';

export function agentServerName(node: string): string {
  return `${node}.${AGENT_DOMAIN}`;
}

export interface AgentTlsFiles {
  cert: string;
  key: string;
  /** The CA whose client certificates are accepted. */
  clientCa: string;
}

export interface ClientTls {
  /** The CA that signed the agents' certificates. */
  ca: string;
  cert: string;
  key: string;
  /** The name every agent's certificate must carry; by default NODE.agent.stickyscope.local. */
  serverName?: string;
}
