// The lab's throwaway certificates: a CA, one agent certificate per node and a client's,
// made at `lab up` in its state dir (and gone with it), so the lab's agents and their
// clients run mutual TLS, the path a cluster runs.
import { join } from 'node:path';
import { writeCertDir } from '../certs/make-certs.js';
import type { AgentTlsFiles, ClientTls } from '../certs/names.js';

export interface LabTls {
  dir: string;
  client: ClientTls;
  agent(i: number): AgentTlsFiles;
  /** `--tls-ca F --tls-cert F --tls-key F` for a client command. */
  clientArgs(): string[];
  /** `--tls-cert F --tls-key F --tls-client-ca F` for node i's agent. */
  agentArgs(i: number): string[];
}

const CLIENT = 'lab-client';

export function labTls(stateDir: string, nodes: string[]): LabTls {
  const dir = join(stateDir, 'tls');
  const client: ClientTls = {
    ca: join(dir, 'ca.crt'),
    cert: join(dir, `${CLIENT}.crt`),
    key: join(dir, `${CLIENT}.key`),
  };
  const agent = (i: number): AgentTlsFiles => ({
    cert: join(dir, `${nodes[i]}.crt`),
    key: join(dir, `${nodes[i]}.key`),
    clientCa: client.ca,
  });
  return {
    dir,
    client,
    agent,
    clientArgs: () => ['--tls-ca', client.ca, '--tls-cert', client.cert, '--tls-key', client.key],
    agentArgs: (i) => {
      const a = agent(i);
      return ['--tls-cert', a.cert, '--tls-key', a.key, '--tls-client-ca', a.clientCa];
    },
  };
}

/** A week is longer than any lab lives. */
export async function makeLabCerts(stateDir: string, nodes: string[]): Promise<void> {
  await writeCertDir(join(stateDir, 'tls'), { nodes, clients: [CLIENT], days: 7 });
}
