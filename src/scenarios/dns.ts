// kube-dns in the lab: dnsmasq in each backend namespace answering a local zone, and
// dnsperf as the load. dnsmasq logs every query with its source (the ground truth per
// pod and client); dnsperf prints its own count of queries sent and completed.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError } from '../core/errors.js';
import { logDirOf } from '../lab/state.js';
import type { Lab, LabBackend } from '../lab/lab.js';
import { runIn } from './netns-tools.js';
import { backendIp } from './family.js';

export const ZONE = 'cluster.local';
/** Names the dnsmasq pods answer, with the addresses they answer. */
const RECORDS: [string, string][] = [
  [`kube-dns.kube-system.svc.${ZONE}`, '10.96.0.10'],
  [`web.lab.svc.${ZONE}`, '10.96.0.80'],
  [`api.lab.svc.${ZONE}`, '10.96.0.81'],
];

export interface DnsServer {
  pod: string;
  log: string;
  child: ChildProcess;
}

function dnsmasqLog(lab: Lab, pod: string): string {
  return join(logDirOf(lab.prefix), `dnsmasq-${pod}.log`);
}

/** Starts dnsmasq on the backend's address of the scenario's family, port 53 (UDP and TCP); resolves once it logged its start. */
export async function startDnsmasq(lab: Lab, b: LabBackend): Promise<DnsServer> {
  const log = dnsmasqLog(lab, b.name);
  const args = [
    'netns',
    'exec',
    b.netns,
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-hosts',
    '--no-resolv',
    '--user=root',
    '--pid-file=',
    `--listen-address=${backendIp(lab, b)}`,
    '--bind-interfaces',
    '--port=53',
    `--local=/${ZONE}/`,
    ...RECORDS.map(([name, ip]) => `--host-record=${name},${ip}`),
    '--log-queries',
    `--log-facility=${log}`,
  ];
  // `ip netns exec` execs in place: the child's pid is dnsmasq's.
  const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const end = Date.now() + 5000;
  while (!(existsSync(log) && readFileSync(log, 'utf8').includes('started'))) {
    if (child.exitCode !== null)
      throw new EnvironmentError(
        `failed to start dnsmasq in ${b.netns}: exit ${child.exitCode}: ${err.trim() || 'no output'}; is dnsmasq-base installed?`,
      );
    if (Date.now() > end)
      throw new EnvironmentError(`failed to start dnsmasq in ${b.netns}: no 'started' line in ${log} after 5 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pod: b.name, log, child };
}

export interface LoggedQuery {
  pod: string;
  client: string;
}

/** Queries each pod's dnsmasq logged, from line `from[pod]` on; returns them and the new line counts. */
export function readQueries(
  lab: Lab,
  from: Map<string, number> = new Map(),
): { queries: LoggedQuery[]; lines: Map<string, number> } {
  const queries: LoggedQuery[] = [];
  const lines = new Map<string, number>();
  for (const b of lab.backends) {
    const file = dnsmasqLog(lab, b.name);
    // Complete lines only: the last element after the split is what follows the last newline.
    const all = existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1) : [];
    lines.set(b.name, all.length);
    for (const l of all.slice(from.get(b.name) ?? 0)) {
      const m = /: query\[\w+\] \S+ from (\S+)$/.exec(l);
      if (m) queries.push({ pod: b.name, client: m[1]! });
    }
  }
  return { queries, lines };
}

function queryFile(lab: Lab): string {
  return join(logDirOf(lab.prefix), 'dnsperf-queries.txt');
}

/** dnsperf's input: one A query per name of the zone (written once, before the clients start). */
export function writeQueryFile(lab: Lab): void {
  writeFileSync(queryFile(lab), RECORDS.map(([name]) => `${name} A\n`).join(''));
}

export interface DnsperfStats {
  client: string;
  sent: number;
  completed: number;
  lost: number;
}

/** dnsperf from one client namespace: `sockets` UDP sockets (-c), `qps` in all, for `seconds`. */
export async function runDnsperf(
  lab: Lab,
  client: string,
  target: string,
  opts: { sockets: number; qps: number; seconds: number; signal?: AbortSignal },
): Promise<DnsperfStats> {
  const c = lab.clients.find((x) => x.name === client);
  if (!c)
    throw new Error(
      `dnsperf: no lab client named '${client}'; the lab has ${lab.clients.map((x) => x.name).join(', ')}`,
    );
  const file = queryFile(lab);
  const out = await runIn(
    c.netns,
    'dnsperf',
    [
      '-s',
      target,
      '-d',
      file,
      '-c',
      String(opts.sockets),
      '-Q',
      String(opts.qps),
      '-l',
      String(opts.seconds),
      '-t',
      '2',
    ],
    opts.signal,
  );
  const field = (name: string) => {
    const m = new RegExp(`Queries ${name}:\\s+(\\d+)`).exec(out);
    if (!m && !opts.signal?.aborted)
      throw new EnvironmentError(
        `failed to read dnsperf's statistics in ${c.netns}: no 'Queries ${name}:' line in its output: ${out.slice(-300)}`,
      );
    return m ? Number(m[1]) : 0;
  };
  return { client, sent: field('sent'), completed: field('completed'), lost: field('lost') };
}
