// Runs the traffic client inside a client namespace and reads the backends' logs.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { EnvironmentError, UsageError } from '../core/errors.js';
import { findService } from './config.js';
import type { Lab } from './lab.js';
import { logDirOf } from './state.js';
import type { BackendLogLine, ClientResult, ResolvedPlan, TrafficPlan } from './traffic-types.js';

const clientScript = fileURLToPath(new URL('./traffic-client.js', import.meta.url));

export function resolvePlan(lab: Lab, plan: TrafficPlan): ResolvedPlan {
  const svc = findService(lab.services, plan.service);
  const wants = plan.mode.startsWith('udp') ? 'udp' : 'tcp';
  if (wants !== svc.protocol)
    throw new UsageError(`traffic mode '${plan.mode}' needs a ${wants} service; ${svc.serviceName} is ${svc.protocol}`);
  if (plan.via === 'nodePort') {
    if (svc.nodePort === undefined)
      throw new UsageError(`service ${svc.serviceName} has no nodePort; use via 'clusterIP'`);
    const node = plan.node ?? 0;
    if (node < 0 || node >= lab.nodes.length)
      throw new UsageError(`node index ${node} is out of range; the lab has ${lab.nodes.length} node(s)`);
    return { ...plan, service: svc.serviceName, target: `${lab.nodeIP(node)}:${svc.nodePort}`, proto: svc.protocol };
  }
  return { ...plan, service: svc.serviceName, target: `${svc.clusterIP}:${svc.port}`, proto: svc.protocol };
}

/** Resolves with every answer (and failure) the client logged; aborting stops it early. */
export function runClient(lab: Lab, client: string, plan: TrafficPlan, signal?: AbortSignal): Promise<ClientResult[]> {
  const c = lab.clients.find((x) => x.name === client);
  if (!c)
    return Promise.reject(
      new UsageError(`unknown lab client '${client}'; expected one of: ${lab.clients.map((x) => x.name).join(', ')}`),
    );
  const own = new Set([c.ip, ...c.sources]);
  const foreign = (plan.sources ?? []).filter((ip) => !own.has(ip));
  if (foreign.length)
    return Promise.reject(
      new UsageError(
        `client ${client} has no source address ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}; its addresses: ${c.ip}${c.sources.length ? ` and ${c.sources.length} extra sources` : ''}`,
      ),
    );
  const resolved = resolvePlan(lab, plan);
  const log = join(logDirOf(lab.prefix), `client-${client}.jsonl`);
  const args = [
    'netns',
    'exec',
    c.netns,
    process.execPath,
    clientScript,
    '--name',
    client,
    '--ip',
    c.ip,
    '--plan',
    JSON.stringify(resolved),
    '--log',
    log,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const results: ClientResult[] = [];
    let pending = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) if (l) results.push(JSON.parse(l) as ClientResult);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const stop = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) stop();
    child.on('error', (err) =>
      reject(new EnvironmentError(`failed to start traffic client ${client}: ${err.message}`)),
    );
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', stop);
      if (code === 0 || (signal?.aborted && sig === 'SIGTERM')) resolve(results);
      else
        reject(
          new EnvironmentError(
            `traffic client ${client} in ${c.netns} failed (exit ${code ?? sig}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
    });
  });
}

export async function readBackendLogs(lab: Lab): Promise<BackendLogLine[]> {
  const lines: BackendLogLine[] = [];
  for (const b of lab.backends) {
    if (!existsSync(b.logFile)) continue;
    for (const l of readFileSync(b.logFile, 'utf8').split('\n')) if (l) lines.push(JSON.parse(l) as BackendLogLine);
  }
  return lines.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
}
