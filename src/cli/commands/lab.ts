// `stickyscope lab`: build, drive, inspect and remove the namespace lab.
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { parse, parseDuration, shutdownSignal, type Command } from '../command.js';
import { InputError, UsageError } from '../../core/errors.js';
import { printableJson } from '../../core/text.js';
import {
  defaultConfig,
  describeMode,
  MAX_NODES,
  nodeName,
  findService,
  parseProxyFlags,
  serviceAddresses,
  type IpFamily,
  type LabConfig,
  type LabEndpoint,
} from '../../lab/config.js';
import { familyOf, joinHostPort, splitHostPort } from '../../lab/ip-family.js';
import { labDown, labUp, loadLab, setEndpoints, type Lab } from '../../lab/lab.js';
import { formatStatus, labStatus } from '../../lab/status.js';
import { runClient } from '../../lab/traffic.js';
import type { ClientResult, TrafficPlan } from '../../lab/traffic-types.js';

const usage = `Usage: stickyscope lab <action> [--prefix P] [options]

Builds a Kubernetes node out of network namespaces: a node namespace routing between
client and backend namespaces, with kube-proxy-format iptables rules for the lab's
Services. Needs root. Namespaces are named P-node, P-node2, P-c1.., P-x1.., P-b1..;
state and logs live in /run/stickyscope/lab-P/.

Actions:
  up          create the lab (Ctrl-C during set-up removes what was made)
                --nodes 1..4         number of nodes (default 1); the others hang off the first,
                                     two pods each (b1, b2 on node; b3, b4 on node2, ...)
                --shape current|legacy  rule shape: hashed KUBE-EXT/SVL chains (current)
                                     or the KUBE-XLB shape of older kube-proxy
                --proxy-mode iptables|nftables  how kube-proxy programs the node (default iptables):
                                     KUBE-* chains, or the 'ip kube-proxy' nftables table
                --kube-version 1.35|1.36  nftables mode's rule shape: endpoint chains for every
                                     Service (1.35, default), or inline DNAT maps (1.36)
                --ip-families ipv4|ipv4,ipv6  ipv4,ipv6 makes a dual-stack lab: every client, pod
                                     and node gets an IPv6 address (fd00:..., e.g. 10.0.1.2 ->
                                     fd00:0:1::2), rules for both families (ip6tables or the
                                     'ip6 kube-proxy' table), and three more Services: lab/dual
                                     (both families, ClientIP), lab/dual-dns (both, UDP) and
                                     lab/web6 (IPv6 only, NodePort 30086, Local)
                --zones LIST         topology.kubernetes.io/zone of the nodes, in turn (a,b: node
                                     in a, node2 in b); each pod is in its node's zone
                --config FILE        a LabConfig as JSON instead of the default Services
  down        stop the lab's backends, delete its namespaces and state (idempotent)
  status      namespaces, Services, endpoints, backend processes, connections per KUBE-SEP
  traffic     run a mix through every Service (each family of a dual-stack one) from the
              clients until --duration or Ctrl-C
                --duration D         default 10s
                --rate N             requests per second per client and Service (default 5)
                --clients LIST       comma-separated client names (default: all)
  endpoints   change a Service's endpoints the way kube-proxy would
                stickyscope lab endpoints SERVICE add|remove IP:PORT [--pod NAME] [--node NODE]
                (IPv6 as [IP]:PORT)
  api         serve the lab's Services, EndpointSlices (zones, hints) and Nodes as a cluster's
              API, in the foreground until Ctrl-C: tui, report and record take --k8s
              --kubeconfig FILE (the file it names) beside their --agent addresses
  scenario    reproduce a field report end to end (its own lab, agents, traffic, answer)
                stickyscope lab scenario --list
                stickyscope lab scenario NAME [--tui | --report FILE] [--duration D] [--late-start]
                  [--proxy-mode iptables|nftables] [--kube-version 1.35|1.36] [--ip-family ipv4|ipv6]
                --tui            watch it in the TUI; q ends the run (and the traffic)
                --report FILE    write the JSON report of the run
                --duration D     length of each traffic phase (each scenario has a default)
                --proxy-mode, --kube-version  the scenario's nodes in that mode (as for up);
                                 affinity-overflow fills nftables affinity sets (setFull)
                --ip-family ipv6 a dual-stack lab with IPv6-only Services: clients, ClusterIPs,
                                 NodePorts and pods all IPv6, same answers (default ipv4)
                --late-start     keepalive: the agents start after the connections are open, so
                                 the answer comes from the connections open when tracing began

Options:
  --prefix P   name prefix of the lab (default 'lab')
  -h, --help   this text

Examples:
  stickyscope lab up --prefix lab
  stickyscope lab traffic --duration 30s
  stickyscope lab endpoints lab/web:http remove 10.1.3.2:8080
  stickyscope lab down`;

export const command: Command = {
  usage,
  async run(argv) {
    const [action, ...rest] = argv;
    switch (action) {
      case 'up':
        return up(rest);
      case 'down':
        return down(rest);
      case 'status':
        return status(rest);
      case 'traffic':
        return traffic(rest);
      case 'endpoints':
        return endpoints(rest);
      case 'scenario':
        return (await import('./lab-scenario.js')).scenario(rest);
      case 'api':
        return (await import('./lab-api.js')).api(rest);
      default:
        throw new UsageError(
          `expected an action up, down, status, traffic, endpoints or scenario; got ${action === undefined ? 'nothing' : `'${action}'`}`,
        );
    }
  },
};

/** `--zones a,b`: node k in the k-th zone, round the list (validateConfig checks the names). */
function zonesOf(list: string, nodes: number): Record<string, string> {
  const zones = list.split(',');
  if (zones.some((z) => z === ''))
    throw new UsageError(`--zones expects zone names separated by commas; got '${list}'`);
  return Object.fromEntries(Array.from({ length: nodes }, (_, k) => [nodeName(k), zones[k % zones.length]!]));
}

const prefixOpt = { prefix: { type: 'string', default: 'lab' } } as const;

async function up(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...prefixOpt,
    nodes: { type: 'string', default: '1' },
    shape: { type: 'string', default: 'current' },
    'proxy-mode': { type: 'string' },
    'kube-version': { type: 'string' },
    'ip-families': { type: 'string' },
    zones: { type: 'string' },
    config: { type: 'string' },
  });
  const { proxyMode, kubeVersion } = parseProxyFlags(values['proxy-mode'], values['kube-version']);
  let config: LabConfig;
  if (values.config) {
    if (values['ip-families'] !== undefined)
      throw new UsageError('--ip-families shapes the default Services; with --config FILE set ipFamilies in the file');
    try {
      config = JSON.parse(readFileSync(values.config, 'utf8')) as LabConfig;
    } catch (err) {
      throw new InputError(
        `failed to read --config ${values.config}: ${(err as Error).message}; expected a LabConfig as JSON`,
      );
    }
  } else {
    if (!/^[1-9]$/.test(values.nodes) || Number(values.nodes) > MAX_NODES)
      throw new UsageError(`--nodes expects 1 to ${MAX_NODES}; got '${values.nodes}'`);
    if (values.shape !== 'current' && values.shape !== 'legacy')
      throw new UsageError(`--shape expects current or legacy; got '${values.shape}'`);
    config = defaultConfig({
      nodes: Number(values.nodes),
      shape: values.shape,
      ipFamilies: parseFamilies(values['ip-families']),
    });
  }
  // Given flags override the config file's choice.
  if (proxyMode !== undefined) config.proxyMode = proxyMode;
  if (kubeVersion !== undefined) config.kubeVersion = kubeVersion;
  if (values.zones !== undefined) config.zones = zonesOf(values.zones, config.nodes);
  const signal = shutdownSignal();
  let lab: Lab;
  try {
    lab = await labUp({ prefix: values.prefix, config, signal });
  } catch (err) {
    if (!signal.aborted) throw err;
    process.stderr.write(`stickyscope lab: set-up interrupted; removed what it had made\n`);
    return 130;
  }
  process.stdout.write(
    `lab ${lab.prefix} is up (${describeMode(lab.config)}): nodes ${lab.nodes.join(', ')}; clients ${lab.clients.map((c) => `${c.name}=${[c.ip, c.ip6].filter(Boolean).join(',')}`).join(' ')}; backends ${lab.backends.map((b) => `${b.name}=${[b.ip, b.ip6].filter(Boolean).join(',')}`).join(' ')}\n`,
  );
  for (const s of lab.services)
    process.stdout.write(
      `  ${s.serviceName.padEnd(16)} ${serviceAddresses(s)
        .map((a) => `${joinHostPort(a.ip, s.port)}/${s.protocol}`)
        .join(' ')}${s.nodePort ? ` nodePort ${s.nodePort}` : ''}  affinity ${s.sessionAffinity}\n`,
    );
  process.stdout.write(
    `node netns: ${lab.nodeNetnsPath()}; remove with: stickyscope lab down --prefix ${lab.prefix}\n`,
  );
  return 0;
}

/** "ipv4" or "ipv4,ipv6" (IPv4 is always there: the default Services are IPv4). */
function parseFamilies(text: string | undefined): IpFamily[] {
  if (text === undefined) return ['IPv4'];
  const list = text.toLowerCase().split(',');
  if (list.join(',') === 'ipv4') return ['IPv4'];
  if (list.join(',') === 'ipv4,ipv6') return ['IPv4', 'IPv6'];
  throw new UsageError(`--ip-families expects ipv4 or ipv4,ipv6; got '${text}'`);
}

async function down(argv: string[]): Promise<undefined> {
  const { values } = parse(argv, prefixOpt);
  await labDown(values.prefix);
}

async function status(argv: string[]): Promise<undefined> {
  const { values } = parse(argv, { ...prefixOpt, json: { type: 'boolean', default: false } });
  const lab = await loadLab(values.prefix);
  const st = await labStatus(lab);
  process.stdout.write((values.json ? printableJson(JSON.stringify(st, null, 2)) : formatStatus(lab, st)) + '\n');
}

async function traffic(argv: string[]): Promise<undefined> {
  const { values } = parse(argv, {
    ...prefixOpt,
    duration: { type: 'string', default: '10s' },
    rate: { type: 'string', default: '5' },
    clients: { type: 'string' },
  });
  const durationMs = parseDuration(values.duration, '--duration');
  const rate = Number(values.rate);
  if (!(rate > 0 && rate <= 1000))
    throw new UsageError(`--rate expects requests per second between 0 and 1000; got '${values.rate}'`);
  const lab = await loadLab(values.prefix);
  const names = values.clients ? values.clients.split(',') : lab.clients.map((c) => c.name);
  const signal = shutdownSignal();
  setMaxListeners(names.length * lab.services.length * 2 + 10, signal); // one listener per client run
  const count = Math.ceil((durationMs / 1000) * rate) + 1;
  const base = { count, durationMs, intervalMs: 1000 / rate };
  const runs: Promise<ClientResult[]>[] = [];
  for (const name of names) {
    for (const s of lab.services) {
      // A dual-stack Service gets the same mix over each of its families.
      for (const { family } of serviceAddresses(s)) {
        const plan: TrafficPlan =
          s.protocol === 'udp'
            ? { ...base, service: s.serviceName, mode: 'udp-sessions', family }
            : s.nodePort !== undefined
              ? { ...base, service: s.serviceName, mode: 'keepalive', perConnection: 10, via: 'nodePort', family }
              : { ...base, service: s.serviceName, mode: 'http', family };
        runs.push(runClient(lab, name, plan, signal));
      }
    }
  }
  process.stderr.write(
    `traffic from ${names.join(', ')} to ${lab.services.length} services for ${values.duration} (Ctrl-C stops)\n`,
  );
  const results = (await Promise.all(runs)).flat();
  process.stdout.write(summarize(results) + '\n');
}

function summarize(results: ClientResult[]): string {
  const by = new Map<string, ClientResult[]>();
  // Per Service and family: "lab/dual:http IPv6".
  const key = (r: ClientResult) => (r.target.startsWith('[') ? `${r.service} IPv6` : r.service);
  for (const r of results) {
    // push, not a spread copy: an hour of traffic is 10^5-10^6 results, and copying per result was quadratic.
    const list = by.get(key(r));
    if (list) list.push(r);
    else by.set(key(r), [r]);
  }
  const out: string[] = [];
  for (const [service, rs] of [...by].sort()) {
    const failed = rs.filter((r) => r.answer === null).length;
    out.push(`${service}: ${rs.length} requests, ${failed} failed`);
    const backends = new Map<string, { n: number; clients: Set<string> }>();
    for (const r of rs) {
      if (r.answer === null) continue;
      const b = backends.get(r.answer) ?? { n: 0, clients: new Set<string>() };
      b.n++;
      b.clients.add(r.client);
      backends.set(r.answer, b);
    }
    for (const [name, b] of [...backends].sort())
      out.push(`  ${name.padEnd(6)} ${String(b.n).padStart(6)} answers  from ${[...b.clients].sort().join(',')}`);
  }
  return out.join('\n') || 'no traffic';
}

async function endpoints(argv: string[]): Promise<undefined> {
  const { values, positionals } = parse(
    argv,
    { ...prefixOpt, pod: { type: 'string' }, node: { type: 'string' } },
    true,
  );
  const [service, op, address] = positionals;
  if (!service || (op !== 'add' && op !== 'remove') || !address) {
    throw new UsageError(`expected 'lab endpoints SERVICE add|remove IP:PORT'; got '${positionals.join(' ')}'`);
  }
  const hp = splitHostPort(address);
  if (!hp || familyOf(hp.host) === null || hp.port < 1)
    throw new UsageError(`expected IP:PORT like 10.1.3.2:8080 or [fd00:1:3::2]:8080; got '${address}'`);
  const lab = await loadLab(values.prefix);
  const spec = findService(lab.services, service);
  const [ip, port] = [hp.host, hp.port];
  const others = spec.endpoints.filter((e) => !(e.ip === ip && e.port === port));
  let next: LabEndpoint[];
  if (op === 'remove') {
    if (others.length === spec.endpoints.length)
      throw new UsageError(
        `${spec.serviceName} has no endpoint ${address}; it has ${spec.endpoints.map((e) => joinHostPort(e.ip, e.port)).join(', ') || 'none'}`,
      );
    next = others;
  } else {
    const backend = lab.backends.find((b) => b.ip === ip || b.ip6 === ip);
    const node = values.node ?? (backend ? backend.node.slice(lab.prefix.length + 1) : 'node');
    next = [...others, { ip, port, pod: values.pod ?? backend?.name ?? ip, node }];
  }
  await setEndpoints(lab, spec.serviceName, next);
  process.stdout.write(
    `${spec.serviceName}: ${next.map((e) => joinHostPort(e.ip, e.port)).join(', ') || 'no endpoints'}\n`,
  );
}
