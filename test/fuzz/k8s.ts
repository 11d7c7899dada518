// Fuzz targets: a kubeconfig file (--kubeconfig, read by @kubernetes/client-node and checked by loadKubeConfig) and
// Services and EndpointSlices as the API server sends them (JSON), turned into a catalog by buildCatalog.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/k8s/kube-config.js';
import { buildCatalog } from '../../src/k8s/catalog.js';
import { InvalidResult, bytes, type FuzzTarget } from './target.js';

// In a fuzz worker, under the harness's scratch directory, which outlives a terminated worker's 'exit' handlers.
const dir = mkdtempSync(
  join((workerData as { scratchDir?: string } | null)?.scratchDir ?? tmpdir(), 'stickyscope-fuzz-k8s-'),
);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: me
  user:
    token: abc
contexts:
- name: lab
  context:
    cluster: lab
    user: me
    namespace: default
current-context: lab
`;

export const kubeconfigTarget: FuzzTarget = {
  name: 'kubeconfig',
  seeds: () => [bytes(kubeconfig)],
  run(input) {
    const path = join(dir, 'config');
    writeFileSync(path, input);
    const kc = loadKubeConfig(path);
    if (typeof kc.getCurrentCluster()?.server !== 'string')
      throw new InvalidResult('a kubeconfig was accepted whose current cluster has no server');
  },
};

const fixture = (f: string) =>
  loadAll(readFileSync(new URL(`../../../test/fixtures/k8s/${f}`, import.meta.url), 'utf8'));

/** Values an API object's fields may be replaced with: wrong types, empty, huge, the enum values that matter. */
const palette: unknown[] = [
  null,
  0,
  -1,
  1.5,
  65536,
  2 ** 53,
  '',
  'x',
  '10.0.0.1',
  'fd00::1',
  'None',
  'TCP',
  'UDP',
  'SCTP',
  'ClientIP',
  'IPv6',
  'IPv4',
  'Pod',
  'ExternalName',
  true,
  [],
  {},
  [null],
  [{}],
  { ip: 5 },
  'a'.repeat(300),
];

/** Every [container, key] of a JSON value, depth first. */
function slots(v: unknown, out: [Record<string, unknown>, string][] = []): [Record<string, unknown>, string][] {
  if (v === null || typeof v !== 'object') return out;
  for (const k of Object.keys(v)) {
    out.push([v as Record<string, unknown>, k]);
    slots((v as Record<string, unknown>)[k], out);
  }
  return out;
}

const apiObjects = { services: fixture('services.yaml'), slices: fixture('endpointslices.yaml') };

export const catalogTarget: FuzzTarget = {
  name: 'k8s-catalog',
  // Byte pairs pick a field (first byte, scaled) and its new value (second byte, from the palette).
  seeds: () => [new Uint8Array(0), Uint8Array.from([10, 0, 200, 21, 90, 13])],
  run(input) {
    const objects = structuredClone(apiObjects);
    for (let i = 0; i + 1 < input.length; i += 2) {
      const all = slots(objects);
      const [container, key] = all[Math.floor((input[i]! / 256) * all.length)]!;
      container[key] = structuredClone(palette[input[i + 1]! % palette.length]);
    }
    const services = Array.isArray(objects.services) ? objects.services : [];
    const slices = Array.isArray(objects.slices) ? objects.slices : [];
    for (const s of buildCatalog(services as V1Service[], slices as V1EndpointSlice[]))
      if (
        typeof s.service !== 'string' ||
        !Array.isArray(s.endpoints) ||
        s.endpoints.some((e) => typeof e !== 'string')
      )
        throw new InvalidResult(`a catalog entry of the wrong shape: ${JSON.stringify(s)}`);
  },
};
