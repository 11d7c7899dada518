// The agent's TLS flags (--tls-cert/--tls-key/--tls-client-ca, --tls-dir, --insecure), checked
// before anything starts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from '../core/errors.js';
import type { AgentTlsFiles } from '../protocol/tls.js';

/**
 * The TLS flags, checked before anything starts: all three or none; none only on
 * loopback unless --insecure says plaintext elsewhere is meant.
 */
export async function agentTls(
  values: { 'tls-cert'?: string; 'tls-key'?: string; 'tls-client-ca'?: string; 'tls-dir'?: string; insecure?: boolean },
  listen: string,
  node: string,
): Promise<AgentTlsFiles | undefined> {
  const flags = ['tls-cert', 'tls-key', 'tls-client-ca'] as const;
  const given = flags.filter((f) => values[f] !== undefined);
  const { checkAgentTls, isLoopback } = await import('../protocol/tls.js');
  const dir = values['tls-dir'];
  if (dir !== undefined) {
    if (given.length > 0) throw new UsageError(`give --tls-dir or --${given[0]} and the like, not both`);
    if (values.insecure) throw new UsageError('give either --tls-dir or --insecure, not both');
    const files = tlsDirFiles(dir, node);
    checkAgentTls(files, node);
    return files;
  }
  if (given.length === 0) {
    if (!values.insecure && !isLoopback(listen))
      throw new UsageError(
        `refusing to serve plaintext on ${listen}: the stream carries client addresses; give --tls-cert, --tls-key and --tls-client-ca, or --insecure`,
      );
    return undefined;
  }
  if (given.length < 3)
    throw new UsageError(
      `TLS needs --tls-cert, --tls-key and --tls-client-ca together; got only ${given.map((f) => `--${f}`).join(', ')}`,
    );
  if (values.insecure) throw new UsageError('give either the --tls-* files or --insecure, not both');
  const files = { cert: values['tls-cert']!, key: values['tls-key']!, clientCa: values['tls-client-ca']! };
  checkAgentTls(files, node);
  return files;
}

/** A Secret's files: the node's own pair ('stickyscope certs') before a shared tls.crt/tls.key (cert-manager). */
function tlsDirFiles(dir: string, node: string): AgentTlsFiles {
  const clientCa = join(dir, 'ca.crt');
  if (existsSync(join(dir, `${node}.crt`)))
    return { cert: join(dir, `${node}.crt`), key: join(dir, `${node}.key`), clientCa };
  if (existsSync(join(dir, 'tls.crt'))) return { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), clientCa };
  throw new InputError(
    `--tls-dir ${dir} has neither ${node}.crt nor tls.crt; expected the Secret 'stickyscope certs' makes (NODE.crt, NODE.key, ca.crt, with a pair for node ${node}) or cert-manager's (tls.crt, tls.key, ca.crt)`,
  );
}
