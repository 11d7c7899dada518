// Runs the traffic client inside a client namespace and reads the backends' logs.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { EnvironmentError, UsageError } from '../core/errors.js';
import { findService, serviceAddresses } from './config.js';
import { familyOf, joinHostPort } from './ip-family.js';
import type { Lab } from './lab.js';
import { logDirOf } from './state.js';
import type { BackendLogLine, ClientResult, ResolvedPlan, TrafficPlan } from './traffic-types.js';

const clientScript = fileURLToPath(new URL('./traffic-client.js', import.meta.url));

function resolvePlan(lab: Lab, plan: TrafficPlan): ResolvedPlan {
  const svc = findService(lab.services, plan.service);
  const wants = plan.mode.startsWith('udp') ? 'udp' : 'tcp';
  if (wants !== svc.protocol)
    throw new UsageError(`traffic mode '${plan.mode}' needs a ${wants} service; ${svc.serviceName} is ${svc.protocol}`);
  const addrs = serviceAddresses(svc);
  const family = plan.family ?? addrs[0]!.family;
  const addr = addrs.find((a) => a.family === family);
  if (!addr)
    throw new UsageError(
      `service ${svc.serviceName} has no ${family} address; its families: ${addrs.map((a) => a.family).join(', ')}`,
    );
  const resolved = { ...plan, family, service: svc.serviceName, proto: svc.protocol };
  if (plan.via === 'nodePort') {
    if (svc.nodePort === undefined)
      throw new UsageError(`service ${svc.serviceName} has no nodePort; use via 'clusterIP'`);
    const node = plan.node ?? 0;
    if (node < 0 || node >= lab.nodes.length)
      throw new UsageError(`node index ${node} is out of range; the lab has ${lab.nodes.length} node(s)`);
    const nodeIP = family === 'IPv6' ? lab.nodeIP6(node) : lab.nodeIP(node);
    return { ...resolved, target: joinHostPort(nodeIP!, svc.nodePort) };
  }
  if (plan.via === 'loadBalancer' || plan.via === 'externalIP') {
    const ips = (plan.via === 'loadBalancer' ? svc.loadBalancerIPs : svc.externalIPs) ?? [];
    const ip = ips.find((x) => familyOf(x) === family);
    if (!ip)
      throw new UsageError(
        `service ${svc.serviceName} has no ${family} ${plan.via === 'loadBalancer' ? 'load-balancer IP' : 'external IP'}; its addresses: ${ips.join(', ') || 'none'}`,
      );
    return { ...resolved, target: joinHostPort(ip, svc.port) };
  }
  return { ...resolved, target: joinHostPort(addr.ip, svc.port) };
}

/** Resolves with every answer (and failure) the client logged; aborting stops it early. */
export function runClient(lab: Lab, client: string, plan: TrafficPlan, signal?: AbortSignal): Promise<ClientResult[]> {
  const c = lab.clients.find((x) => x.name === client);
  if (!c)
    return Promise.reject(
      new UsageError(`unknown lab client '${client}'; expected one of: ${lab.clients.map((x) => x.name).join(', ')}`),
    );
  const own = new Set([c.ip, ...(c.ip6 ? [c.ip6] : []), ...c.sources, ...c.sources6]);
  const foreign = (plan.sources ?? []).filter((ip) => !own.has(ip));
  if (foreign.length)
    return Promise.reject(
      new UsageError(
        `client ${client} has no source address ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}; its addresses: ${c.ip}${c.sources.length ? ` and ${c.sources.length} extra sources` : ''}`,
      ),
    );
  let resolved: ResolvedPlan;
  try {
    resolved = resolvePlan(lab, plan);
  } catch (err) {
    return Promise.reject(err);
  }
  const ownIP = resolved.family === 'IPv6' ? c.ip6 : c.ip;
  if (!ownIP)
    return Promise.reject(new UsageError(`client ${client} has no IPv6 address; bring the lab up with IPv6 too`));
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
    ownIP,
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
