// The lab's library API: bring a kube-proxy node made of namespaces up and down,
// load it back from its state dir, and change a Service's endpoints the way
// kube-proxy would (one iptables-restore or nft -f transaction per node).
import { existsSync, rmSync } from 'node:fs';
import { EnvironmentError, UsageError } from '../core/errors.js';
import {
  addressing,
  defaultConfig,
  familyView,
  findService,
  labFamilies,
  nodeName,
  serviceAddresses,
  servicePortName,
  validateConfig,
  validateEndpoints,
  type LabConfig,
  type LabEndpoint,
  type LabServiceSpec,
} from './config.js';
import { serviceChain } from '../kube-proxy/names.js';
import { v6Twin } from './ip-family.js';
import { run, runRaw } from './exec.js';
import { backendFiles, startBackend, stopProcesses, waitReady } from './processes.js';
import { LOCALHOST_NODEPORTS_COUNTER, renderNat } from '../kube-proxy/iptables-render.js';
import { ensureCounter } from './nfacct.js';
import { labTls, makeLabCerts, type LabTls } from './lab-tls.js';
import { nftServiceBase, renderNft } from '../kube-proxy/nft-render.js';
import { checkPrefix, createStateDir, podsFileOf, readState, saveState, stateDirOf, type LabState } from './state.js';
import { buildTopology, namespacesOf, planTopology, routeLeafVia } from './topology.js';

export { defaultConfig } from './config.js';
export type { KubeVersion, LabConfig, LabEndpoint, LabServiceSpec, ProxyMode } from './config.js';
export { runClient, readBackendLogs } from './traffic.js';
export type { ClientResult, BackendLogLine } from './traffic-types.js';

export interface LabClient {
  name: string;
  netns: string;
  ip: string;
  /** Dual-stack labs: the client's IPv6 address (see v6Twin). */
  ip6?: string;
  /** Outside the pod CIDR: its traffic is masqueraded. */
  external: boolean;
  /** Netns of the node it is wired to. */
  node: string;
  /** Extra source addresses (LabConfig.extraSources, client c1 only), for TrafficPlan.sources. */
  sources: string[];
  /** Dual-stack labs: the IPv6 twins of `sources` (else empty). */
  sources6: string[];
  /** Wired to both nodes (LabConfig.dualHomed): routeVia() picks which one its traffic enters. */
  dualHomed: boolean;
}

export interface LabBackend {
  name: string;
  netns: string;
  ip: string;
  /** Dual-stack labs: the pod's IPv6 address; it serves both families. */
  ip6?: string;
  /** Netns of the node it runs on. */
  node: string;
  pid: number | null;
  logFile: string;
}

interface LabService extends LabServiceSpec {
  /** "ns/name:port", as kube-proxy's comments name it. */
  serviceName: string;
  /** The KUBE-SVC-* chain (iptables mode) or the service-* chain (nftables mode). */
  chain: string;
}

export interface Lab {
  prefix: string;
  stateDir: string;
  /** Pod names by backend address, for `agent --pods` on the lab's nodes (state.ts). */
  podsFile: string;
  /** Netns names, node 1 first. */
  nodes: string[];
  nodeNetnsPath(i?: number): string;
  /** Node i's own address (where NodePorts answer). */
  nodeIP(i?: number): string;
  /** Node i's own IPv6 address in a dual-stack lab, else undefined. */
  nodeIP6(i?: number): string | undefined;
  clients: LabClient[];
  backends: LabBackend[];
  services: LabService[];
  config: LabConfig;
  /** Mutual TLS files made at lab up, for the agents on its nodes and their clients. */
  tls: LabTls;
}

function labFromState(s: LabState): Lab {
  const t = planTopology(s.prefix, s.config);
  const pid = (name: string) => s.processes.find((p) => p.name === name)?.pid ?? null;
  return {
    prefix: s.prefix,
    stateDir: stateDirOf(s.prefix),
    podsFile: podsFileOf(s.prefix),
    nodes: t.nodes,
    nodeNetnsPath: (i = 0) => `/run/netns/${t.nodes[i]}`,
    nodeIP: (i = 0) => addressing.nodeIP(i),
    nodeIP6: (i = 0) => (t.dualStack ? v6Twin(addressing.nodeIP(i)) : undefined),
    clients: t.leaves
      .filter((l) => l.kind !== 'backend')
      .map((l) => ({
        name: l.name,
        netns: l.netns,
        ip: l.ip,
        ...(l.ip6 ? { ip6: l.ip6 } : {}),
        external: l.kind === 'external',
        node: l.node,
        sources: l.extra,
        sources6: l.extra6 ?? [],
        dualHomed: l.alsoNode !== undefined,
      })),
    backends: t.leaves
      .filter((l) => l.kind === 'backend')
      .map((l) => ({
        name: l.name,
        netns: l.netns,
        ip: l.ip,
        ...(l.ip6 ? { ip6: l.ip6 } : {}),
        node: l.node,
        pid: pid(l.name),
        logFile: backendFiles(s.prefix, l.name).log,
      })),
    services: s.config.services.map((svc) => ({
      ...svc,
      serviceName: servicePortName(svc),
      chain:
        s.config.proxyMode === 'nftables'
          ? `service-${nftServiceBase(svc)}`
          : serviceChain('KUBE-SVC', servicePortName(svc), svc.protocol),
    })),
    config: s.config,
    tls: labTls(stateDirOf(s.prefix), t.nodes),
  };
}

async function existingNamespaces(): Promise<Set<string>> {
  const out = await run('ip', ['netns', 'list']);
  return new Set(
    out
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(Boolean),
  );
}

/** One transaction per node and family: kube-proxy runs one proxier per family (iptables and ip6tables, or ip and ip6 tables). */
async function loadRules(s: LabState, nodes: string[], oldConfig: LabConfig | null): Promise<void> {
  for (const family of labFamilies(s.config)) {
    const view = familyView(s.config, family);
    const oldView = oldConfig ? familyView(oldConfig, family) : null;
    for (const [k, ns] of nodes.entries()) {
      const node = nodeName(k);
      if (s.config.proxyMode === 'nftables') {
        // NodePorts at the node's own address, as kube-proxy's nftables mode accepts them by default (`primary`).
        const nodePortIPs = [family === 'IPv6' ? v6Twin(addressing.nodeIP(k)) : addressing.nodeIP(k)];
        const stale = oldView ? renderNft(oldView, node, { family, nodePortIPs }) : undefined;
        const { text } = renderNft(view, node, { stale, family, nodePortIPs });
        await run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], text);
        continue;
      }
      const stale = oldView ? renderNat(oldView, node, { jumps: false, family }).chains : [];
      const nfacct = family === 'IPv4' && (await ensureCounter(ns, LOCALHOST_NODEPORTS_COUNTER));
      const { text } = renderNat(view, node, { jumps: oldConfig === null, stale, family, nfacct });
      const restore = family === 'IPv6' ? 'ip6tables-restore' : 'iptables-restore';
      await run('ip', ['netns', 'exec', ns, restore, '--noflush'], text);
    }
  }
}

export async function labUp(opts: { prefix: string; config?: LabConfig; signal?: AbortSignal }): Promise<Lab> {
  const { prefix, signal } = opts;
  checkPrefix(prefix);
  const config = structuredClone(opts.config ?? defaultConfig());
  validateConfig(config);
  if (process.getuid?.() !== 0)
    throw new EnvironmentError('lab up needs root (network namespaces, iptables); run it as root');
  if (readState(prefix))
    throw new UsageError(
      `a lab with prefix '${prefix}' exists already (${stateDirOf(prefix)}); run 'stickyscope lab down --prefix ${prefix}' first`,
    );
  const topo = planTopology(prefix, config);
  const taken = [...(await existingNamespaces())].filter((n) => namespacesOf(topo).includes(n));
  if (taken.length)
    throw new EnvironmentError(
      `failed to create lab '${prefix}': namespaces exist already: ${taken.join(', ')}; expected none with this prefix`,
    );
  const state: LabState = {
    prefix,
    createdAt: new Date().toISOString(),
    config,
    namespaces: namespacesOf(topo),
    processes: [],
    ready: false,
  };
  const check = () => {
    if (signal?.aborted) throw signal.reason ?? new Error('lab up aborted');
  };
  check();
  createStateDir(state);
  try {
    await makeLabCerts(stateDirOf(prefix), topo.nodes);
    await buildTopology(topo, check);
    await loadRules(state, topo.nodes, null);
    check();
    for (const b of topo.leaves.filter((l) => l.kind === 'backend')) {
      state.processes.push(startBackend(prefix, config, b.name, b.ip, b.netns, b.ip6));
      saveState(state);
    }
    await waitReady(prefix, state.processes, check);
    state.ready = true;
    saveState(state);
    return labFromState(state);
  } catch (err) {
    await labDown(prefix);
    throw err;
  }
}

/**
 * Removes what the state dir says this lab made; quiet when it is gone already. Works
 * after a set-up that was killed part-way: processes are found by scanning (see
 * labProcesses), and the state names every namespace before it is created.
 */
export async function labDown(prefix: string): Promise<void> {
  checkPrefix(prefix);
  const dir = stateDirOf(prefix);
  const state = readState(prefix);
  await stopProcesses(prefix);
  if (state) {
    const present = await existingNamespaces();
    const failures: string[] = [];
    for (const ns of state.namespaces.filter((n) => present.has(n))) {
      const r = await runRaw('ip', ['netns', 'del', ns]);
      if (r.code !== 0) failures.push(`${ns}: ${r.stderr.trim()}`);
    }
    if (failures.length) throw new EnvironmentError(`failed to delete lab namespaces: ${failures.join('; ')}`);
  }
  // A backend `lab up` spawned just before it died may have entered its namespace during the first sweep.
  await stopProcesses(prefix);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

export async function loadLab(prefix: string): Promise<Lab> {
  checkPrefix(prefix);
  const state = readState(prefix);
  if (!state)
    throw new UsageError(
      `no lab with prefix '${prefix}': ${stateDirOf(prefix)}/state.json does not exist; run 'stickyscope lab up --prefix ${prefix}'`,
    );
  return labFromState(state);
}

/**
 * Replaces a Service's endpoints and re-syncs every node in one transaction each.
 * Chains of kept endpoints keep their names (the hash of the endpoint), so their
 * xt_recent lists, and the affinity they hold, survive the change.
 */
export async function setEndpoints(lab: Lab, service: string, endpoints: LabEndpoint[]): Promise<void> {
  const state = readState(lab.prefix);
  if (!state) throw new UsageError(`no lab with prefix '${lab.prefix}' (its state dir is gone)`);
  const oldConfig = structuredClone(state.config);
  const spec = findService(state.config.services, service);
  validateEndpoints(
    servicePortName(spec),
    endpoints,
    new Set(Array.from({ length: state.config.nodes }, (_, k) => nodeName(k))),
    serviceAddresses(spec).map((a) => a.family),
  );
  spec.endpoints = endpoints.map((e) => ({ ...e }));
  await loadRules(state, lab.nodes, oldConfig);
  saveState(state);
  const fresh = labFromState(state);
  lab.services.splice(0, lab.services.length, ...fresh.services);
  lab.config = fresh.config;
}

/** Makes a dual-homed client's traffic (ClusterIP included) enter the cluster at node `node`. */
export async function routeVia(lab: Lab, client: string, node: number): Promise<void> {
  const leaf = planTopology(lab.prefix, lab.config).leaves.find((l) => l.name === client);
  if (!leaf?.alsoNode)
    throw new UsageError(
      `client '${client}' is not dual-homed; set dualHomed in the lab config and use an external client (x1...)`,
    );
  if (node !== 0 && node !== 1)
    throw new UsageError(`node index ${node} is out of range; a dual-homed client reaches nodes 0 and 1`);
  await routeLeafVia(leaf, node);
}
