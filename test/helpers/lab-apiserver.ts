// The lab as a cluster's API shows it: its Services and EndpointSlices (with the zones, hints and conditions the lab's
// EndpointSlice controller gives, src/lab/endpoint-slices.ts), its Nodes (zone labels), one ready agent Pod per running
// lab agent (podIP 127.0.0.1, the agent's port as its "grpc" container port) and the client certificate's Secret, as
// cert-manager keeps it, on the fake API server. What `--k8s` and kubectl itself read.
import type { TestContext } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeName } from '../../src/lab/config.js';
import type { Lab } from '../../src/lab/lab.js';
import { sliceEndpoints } from '../../src/lab/endpoint-slices.js';
import type { LabAgents } from './agents.js';
import { groupBy } from './group-by.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

const AGENT_NAMESPACE = 'stickyscope';
const AGENT_LABELS = { 'app.kubernetes.io/name': 'stickyscope-agent' };

export async function serveLabApi(t: TestContext, lab: Lab, agents: LabAgents): Promise<FakeApiServer> {
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-api-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const api = await startFakeApiServer({ dir });
  t.after(() => api.close());
  const byService = groupBy(lab.config.services, (s) => `${s.namespace}/${s.name}`);
  /** The API names nodes as the agents do: the lab's node namespaces. */
  const fullName = (short: string) => lab.nodes[lab.nodes.findIndex((_, i) => nodeName(i) === short)] ?? short;
  for (const ports of byService.values()) {
    const s = ports[0]!;
    api.apply('services', {
      metadata: { namespace: s.namespace, name: s.name },
      spec: {
        type: s.nodePort ? 'NodePort' : 'ClusterIP',
        clusterIP: s.clusterIP,
        clusterIPs: s.clusterIPs ?? [s.clusterIP],
        sessionAffinity: s.sessionAffinity,
        ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
        ...(s.externalTrafficPolicy ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
        ...(s.trafficDistribution ? { trafficDistribution: s.trafficDistribution } : {}),
        ...(s.sessionAffinity === 'ClientIP'
          ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: s.timeoutSeconds ?? 10800 } } }
          : {}),
        ports: ports.map((p) => ({
          ...(p.portName ? { name: p.portName } : {}),
          port: p.port,
          protocol: p.protocol.toUpperCase(),
          targetPort: p.endpoints[0]?.port ?? p.port,
          ...(p.nodePort ? { nodePort: p.nodePort } : {}),
        })),
      },
    });
    const endpoints = [...new Map(ports.flatMap((p) => sliceEndpoints(lab.config, p)).map((e) => [e.ip, e])).values()];
    // One slice per family, as the EndpointSlice controller writes them.
    for (const family of ['IPv4', 'IPv6'] as const) {
      const ofFamily = endpoints.filter((e) => e.ip.includes(':') === (family === 'IPv6'));
      if (ofFamily.length === 0) continue;
      api.apply('endpointslices', {
        metadata: {
          namespace: s.namespace,
          name: `${s.name}-lab-${family.toLowerCase()}`,
          labels: { 'kubernetes.io/service-name': s.name },
        },
        addressType: family,
        ports: ports.map((p) => ({
          ...(p.portName ? { name: p.portName } : {}),
          port: p.endpoints[0]?.port ?? p.port,
          protocol: p.protocol.toUpperCase(),
        })),
        endpoints: ofFamily.map((e) => ({
          addresses: [e.ip],
          conditions: {
            ready: e.ready !== false,
            serving: e.serving ?? e.ready !== false,
            terminating: e.terminating ?? false,
          },
          nodeName: fullName(e.node),
          ...(e.zone ? { zone: e.zone } : {}),
          ...(e.hints
            ? {
                hints: {
                  ...(e.hints.zones?.length ? { forZones: e.hints.zones.map((name) => ({ name })) } : {}),
                  ...(e.hints.nodes?.length ? { forNodes: e.hints.nodes.map((n) => ({ name: fullName(n) })) } : {}),
                },
              }
            : {}),
          targetRef: { kind: 'Pod', namespace: s.namespace, name: e.pod },
        })),
      });
    }
  }
  lab.nodes.forEach((name, i) => {
    const zone = lab.config.zones?.[nodeName(i)];
    api.apply('nodes', {
      metadata: {
        name,
        labels: { 'kubernetes.io/hostname': name, ...(zone ? { 'topology.kubernetes.io/zone': zone } : {}) },
      },
    });
  });
  for (const a of agents.agents) {
    api.apply('pods', {
      metadata: { namespace: AGENT_NAMESPACE, name: `stickyscope-agent-${a.index}`, labels: AGENT_LABELS },
      spec: {
        nodeName: a.node,
        containers: [{ name: 'agent', ports: [{ name: 'grpc', containerPort: Number(a.address.split(':').at(-1)) }] }],
      },
      status: { phase: 'Running', podIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
    });
  }
  const tls = lab.tls.client;
  const b64 = (file: string) => readFileSync(file).toString('base64');
  api.apply('secrets', {
    metadata: { namespace: AGENT_NAMESPACE, name: 'stickyscope-client-tls' },
    type: 'kubernetes.io/tls',
    data: { 'ca.crt': b64(tls.ca), 'tls.crt': b64(tls.cert), 'tls.key': b64(tls.key) },
  });
  return api;
}
