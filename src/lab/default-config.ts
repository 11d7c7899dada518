// The default lab: its pods and Services, as `lab up` makes them without --config (three pods on one node, or four
// on two; every Service shape kube-proxy writes; a dual-stack lab's own Services).
import type { IpFamily } from '../core/ip.js';
import type { ProxyMode } from '../core/event.js';
import { v6Twin } from './ip-family.js';
import {
  addressing,
  defaultClusterCIDR6,
  nodeName,
  type KubeVersion,
  type LabConfig,
  type LabServiceSpec,
  type RuleShape,
} from './config.js';

/** The default lab's pods: three on one node, else two on each node. */
function defaultBackends(nodes: number): LabConfig['backends'] {
  const count = nodes === 1 ? 3 : 2 * nodes;
  return Array.from({ length: count }, (_, j) => ({
    name: `b${j + 1}`,
    node: nodeName(nodes === 1 ? 0 : Math.floor(j / 2)),
  }));
}

/** Makes the default lab's Services on its pods: every pod an endpoint, IPv4 (or its IPv6 twin). */
function serviceMaker(backends: LabConfig['backends']) {
  const endpoints = (port: number) =>
    backends.map((b, j) => ({ ip: addressing.backendIP(j + 1), port, pod: b.name, node: b.node }));
  const endpoints6 = (port: number) =>
    backends.map((b, j) => ({ ip: v6Twin(addressing.backendIP(j + 1)), port, pod: b.name, node: b.node }));
  const svc = (name: string, portName: string, last: number, rest: Partial<LabServiceSpec>): LabServiceSpec => ({
    namespace: 'lab',
    name,
    portName,
    clusterIP: `10.96.0.${last}`,
    port: 80,
    protocol: 'tcp',
    sessionAffinity: 'None',
    endpoints: endpoints(8080),
    ...rest,
  });
  return { svc, endpoints, endpoints6 };
}

type ServiceMaker = ReturnType<typeof serviceMaker>;

/** The IPv4 Services every default lab has (a two-node one also a Local Service with its only pod on node 1). */
function ipv4Services({ svc, endpoints }: ServiceMaker, nodes: number): LabServiceSpec[] {
  return [
    svc('web', 'http', 10, {}),
    svc('sticky', 'http', 11, { sessionAffinity: 'ClientIP', timeoutSeconds: 10 }),
    svc('dns', 'dns', 12, {
      port: 53,
      protocol: 'udp',
      sessionAffinity: 'ClientIP',
      timeoutSeconds: 10,
      endpoints: endpoints(5353),
    }),
    svc('edge', 'http', 13, { nodePort: 30080, externalTrafficPolicy: 'Local' }),
    // As on most real nodes: a Service with no endpoints (kube-proxy rejects its connections), and in a two-node lab
    // a Local one with its only pod on the first node (the second node drops what reaches its NodePort).
    svc('empty', 'http', 20, { nodePort: 30090, endpoints: [] }),
    // A LoadBalancer Service as a cloud's load balancer leaves it: an ingress IP whose source ranges admit client c1
    // and the external clients but not c2 or c3 (kube-proxy drops them before DNAT), and an external IP, which the
    // ranges do not cover.
    svc('lb', 'http', 22, {
      nodePort: 30092,
      loadBalancerIPs: [addressing.loadBalancerIP(22)],
      loadBalancerSourceRanges: ['10.0.1.0/24', '10.2.0.0/16'],
      externalIPs: [addressing.externalServiceIP(22)],
    }),
    ...(nodes > 1
      ? [
          svc('solo', 'http', 21, {
            nodePort: 30091,
            externalTrafficPolicy: 'Local',
            endpoints: endpoints(8080)
              .filter((e) => e.node === nodeName(0))
              .slice(0, 1),
          }),
        ]
      : []),
  ];
}

/** A dual-stack lab's own Services (HTTP with ClientIP and UDP on both families, an IPv6-only Local NodePort). */
function dualStackServices({ svc, endpoints, endpoints6 }: ServiceMaker): LabServiceSpec[] {
  return [
    svc('dual', 'http', 14, {
      clusterIPs: ['10.96.0.14', v6Twin('10.96.0.14')],
      ipFamilies: ['IPv4', 'IPv6'],
      sessionAffinity: 'ClientIP',
      timeoutSeconds: 10,
      endpoints: [...endpoints(8080), ...endpoints6(8080)],
    }),
    svc('dual-dns', 'dns', 16, {
      clusterIPs: ['10.96.0.16', v6Twin('10.96.0.16')],
      ipFamilies: ['IPv4', 'IPv6'],
      port: 53,
      protocol: 'udp',
      endpoints: [...endpoints(5353), ...endpoints6(5353)],
    }),
    svc('web6', 'http', 15, {
      clusterIP: v6Twin('10.96.0.15'),
      nodePort: 30086,
      externalTrafficPolicy: 'Local',
      endpoints: endpoints6(8080),
    }),
  ];
}

export function defaultConfig(
  opts: {
    nodes?: number;
    shape?: RuleShape;
    proxyMode?: ProxyMode;
    kubeVersion?: KubeVersion;
    ipFamilies?: IpFamily[];
  } = {},
): LabConfig {
  const nodes = opts.nodes ?? 1;
  const backends = defaultBackends(nodes);
  const make = serviceMaker(backends);
  const families = opts.ipFamilies ?? ['IPv4'];
  const dual = families.includes('IPv6');
  return {
    ...(dual ? { ipFamilies: families, clusterCIDR6: defaultClusterCIDR6 } : {}),
    shape: opts.shape ?? 'current',
    proxyMode: opts.proxyMode ?? 'iptables',
    kubeVersion: opts.kubeVersion ?? '1.35',
    nodes,
    clusterCIDR: '10.0.0.0/15',
    clients: 3,
    externalClients: 1,
    backends,
    // The IPv4 Services stay as they are in a dual-stack lab, which adds its own.
    services: [...ipv4Services(make, nodes), ...(dual ? dualStackServices(make) : [])],
  };
}
