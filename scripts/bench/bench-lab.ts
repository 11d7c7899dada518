// The bench's lab: one kube-proxy node, one client namespace per CPU, three backends, a TCP and a UDP Service
// without affinity, and drop rules in the backends' namespaces that count what the node translated.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { defaultConfig, labDown, labUp, type Lab, type LabServiceSpec } from '../../src/lab/lab.js';
import { run, runRaw } from '../../src/lab/exec.js';
import { checkAborted, onCleanup } from './procs.js';

export type BenchProto = 'udp' | 'tcp';

export interface BenchLab {
  lab: Lab;
  nodeNetns: string;
  /** "ip:port" of the Service per protocol. */
  service: Record<BenchProto, string>;
  clients: { netns: string; srcBase: string }[];
  /** What the bench changed on the machine, for the table's notes. */
  settings: string[];
}

const TABLE = 'stickyscope_bench';
const CONNTRACK_MAX = '/proc/sys/net/netfilter/nf_conntrack_max';
/** Room for every run between two flushes (a few seconds at ~300k flows/s) without early drops. */
const BENCH_CONNTRACK_MAX = 4_194_304;
/** Source addresses per client namespace: .2 up to .251 of its /24. */
export const SOURCES_PER_CLIENT = 250;

function services(): LabServiceSpec[] {
  const base = defaultConfig().services;
  const web = base.find((s) => s.name === 'web')!;
  const dns = base.find((s) => s.name === 'dns')!;
  return [
    { ...web, sessionAffinity: 'None' },
    { ...dns, name: 'flood-udp', sessionAffinity: 'None', timeoutSeconds: undefined },
  ];
}

/**
 * Backends drop the flood in their own namespace (nft, before any socket): the Node backend servers would
 * otherwise be what is measured, and the flood's sources are spoofed so nobody could take a reply. The drop
 * rules count what arrived: the number of connections the node translated.
 */
function dropRules(svcs: LabServiceSpec[]): string {
  const port = (p: BenchProto) => svcs.find((s) => s.protocol === p)!.endpoints[0]!.port;
  return (
    [
      `table inet ${TABLE} {`,
      '  counter udp_new {}',
      '  counter tcp_new {}',
      '  chain pre {',
      '    type filter hook prerouting priority -300; policy accept;',
      `    udp dport ${port('udp')} counter name udp_new drop`,
      `    tcp dport ${port('tcp')} counter name tcp_new drop`,
      '  }',
      '}',
    ].join('\n') + '\n'
  );
}

/** `signal` stops the build between steps; labUp then takes down what it made. */
export async function benchLabUp(prefix: string, signal: AbortSignal): Promise<BenchLab> {
  const config = defaultConfig();
  config.clients = Math.max(2, availableParallelism());
  config.externalClients = 0;
  config.services = services();
  onCleanup(() => labDown(prefix));
  const lab = await labUp({ prefix, config, signal });
  checkAborted();
  for (const b of lab.backends)
    await run('ip', ['netns', 'exec', b.netns, 'nft', '-f', '-'], dropRules(config.services));
  const settings: string[] = [];
  const oldMax = readFileSync(CONNTRACK_MAX, 'utf8').trim();
  if (Number(oldMax) < BENCH_CONNTRACK_MAX) {
    onCleanup(() => writeFileSync(CONNTRACK_MAX, oldMax));
    writeFileSync(CONNTRACK_MAX, String(BENCH_CONNTRACK_MAX));
    settings.push(`net.netfilter.nf_conntrack_max ${oldMax} -> ${BENCH_CONNTRACK_MAX} (restored at exit)`);
  }
  settings.push(
    `nf_conntrack_buckets ${readFileSync('/proc/sys/net/netfilter/nf_conntrack_buckets', 'utf8').trim()} (unchanged)`,
  );
  settings.push('conntrack -F in the node netns before every run; default timeouts (no entry expires within a run)');
  const svc = (p: BenchProto) => {
    const s = lab.services.find((x) => x.protocol === p)!;
    return `${s.clusterIP}:${s.port}`;
  };
  return {
    lab,
    nodeNetns: lab.nodeNetnsPath(0),
    service: { udp: svc('udp'), tcp: svc('tcp') },
    clients: lab.clients.map((c) => ({ netns: `/run/netns/${c.netns}`, srcBase: c.ip })),
    settings,
  };
}

/** Packets of `proto` that reached any backend: each is one new translated connection. */
export async function translated(b: BenchLab, proto: BenchProto): Promise<number> {
  let sum = 0;
  for (const be of b.lab.backends) {
    const out = await run('ip', [
      'netns',
      'exec',
      be.netns,
      'nft',
      '-j',
      'list',
      'counter',
      'inet',
      TABLE,
      `${proto}_new`,
    ]);
    const items = (JSON.parse(out) as { nftables: Array<{ counter?: { packets: number } }> }).nftables;
    const c = items.find((i) => i.counter)?.counter;
    if (!c) throw new Error(`failed to read the ${proto}_new counter in ${be.netns}: no counter in nft's answer`);
    sum += c.packets;
  }
  return sum;
}

export async function flushConntrack(b: BenchLab): Promise<void> {
  // conntrack -F exits 1 with "0 flow entries" on some versions when the table is empty.
  const r = await runRaw('ip', ['netns', 'exec', b.lab.nodes[0]!, 'conntrack', '-F']);
  if (r.code !== 0 && !/deleted|emptied|0 flow/.test(r.stderr))
    throw new Error(`failed to flush conntrack in ${b.lab.nodes[0]}: ${r.stderr.trim()}`);
}

export async function conntrackCount(b: BenchLab): Promise<number> {
  return Number((await run('ip', ['netns', 'exec', b.lab.nodes[0]!, 'conntrack', '-C'])).trim());
}
