// deploy/*.yaml checked offline: fields and types against @kubernetes/client-node's OpenAPI-generated models (as
// `kubectl apply --validate=strict` would), required fields from a hand-written list, then the project's own rules:
// least privilege, and the pieces referring to each other (labels, ports, accounts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { loadAll } from 'js-yaml';
// The models alone: the package's index also loads its HTTP stack, which is not needed here.
import * as k8s from '@kubernetes/client-node/dist/gen/models/all.js';

const DEPLOY = new URL('../../../deploy/', import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked by path; its shape is what these tests check
type Doc = Record<string, any>;

interface Attr {
  baseName: string;
  type: string;
}
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attr[] } | undefined>;

/** Errors of `value` against the generated model `type` (its attributeTypeMap), with their paths. */
function schemaErrors(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr)
    return Array.isArray(value)
      ? value.flatMap((v, i) => schemaErrors(v, arr[1]!, `${path}[${i}]`))
      : [`${path}: expected a list, got ${typeof value}`];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a map, got ${typeof value}`];
    return Object.entries(value).flatMap(([k, v]) => schemaErrors(v, map[1]!, `${path}.${k}`));
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${path}: expected a string, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' ? [] : [`${path}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'IntOrString':
      return typeof value === 'number' || typeof value === 'string' ? [] : [`${path}: expected an int or a string`];
    case 'Date':
      return typeof value === 'string' ? [] : [`${path}: expected a timestamp`];
    case 'any':
      return [];
  }
  const attrs = models[type]?.getAttributeTypeMap?.();
  if (!attrs) return [`${path}: no model ${type} in the client's schema`];
  if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a ${type} object`];
  const byName = new Map(attrs.map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([k, v]) =>
    byName.has(k) ? schemaErrors(v, byName.get(k)!, `${path}.${k}`) : [`${path}.${k}: unknown field of ${type}`],
  );
}

/** The model for apiVersion/kind, named as the generator names them (apps/v1 DaemonSet -> V1DaemonSet). */
const modelOf = (doc: Doc) => {
  const version = String(doc.apiVersion).split('/').at(-1)!;
  return `${version[0]!.toUpperCase()}${version.slice(1)}${doc.kind}`;
};

// Required fields are not in the generated models, so a short list per kind covers them.
const REQUIRED: Record<string, string[]> = {
  '*': ['apiVersion', 'kind', 'metadata.name'],
  Deployment: [
    'metadata.namespace',
    'spec.selector.matchLabels',
    'spec.template.metadata.labels',
    'spec.template.spec.containers',
  ],
  DaemonSet: [
    'metadata.namespace',
    'spec.selector.matchLabels',
    'spec.template.metadata.labels',
    'spec.template.spec.containers',
  ],
  Service: ['metadata.namespace', 'spec.ports', 'spec.selector'],
  ServiceAccount: ['metadata.namespace'],
  NetworkPolicy: ['metadata.namespace', 'spec.podSelector'],
  Role: ['metadata.namespace', 'rules'],
  RoleBinding: ['metadata.namespace', 'roleRef.apiGroup', 'roleRef.kind', 'roleRef.name', 'subjects'],
  ClusterRole: ['rules'],
  ClusterRoleBinding: ['roleRef.apiGroup', 'roleRef.kind', 'roleRef.name', 'subjects'],
  Namespace: [],
};

const get = (o: Doc, path: string) =>
  path.split('.').reduce((v, k) => (v === undefined || v === null ? undefined : v[k]), o);

function requiredErrors(doc: Doc, where: string): string[] {
  const kind = String(doc.kind);
  if (!(kind in REQUIRED)) return [`${where}: kind ${kind} has no required-field list here; add one`];
  const errs = [...REQUIRED['*']!, ...REQUIRED[kind]!]
    .filter((p) => get(doc, p) === undefined)
    .map((p) => `${where}: missing ${p}`);
  for (const [i, c] of (get(doc, 'spec.template.spec.containers') ?? []).entries()) {
    for (const f of ['name', 'image']) if (!c[f]) errs.push(`${where}: containers[${i}] missing ${f}`);
    for (const p of c.ports ?? [])
      if (p.containerPort === undefined) errs.push(`${where}: containers[${i}] port without containerPort`);
  }
  for (const [i, r] of (doc.rules ?? []).entries()) if (!r.verbs) errs.push(`${where}: rules[${i}] missing verbs`);
  for (const [i, s] of (doc.subjects ?? []).entries())
    if (!s.kind || !s.name) errs.push(`${where}: subjects[${i}] missing kind or name`);
  for (const [i, p] of (get(doc, 'spec.ports') ?? []).entries())
    if (doc.kind === 'Service' && p.port === undefined) errs.push(`${where}: ports[${i}] missing port`);
  return errs;
}

/** Optional, applied on its own: its kinds are cert-manager's, checked by their own test below. */
const CERT_MANAGER = 'cert-manager.yaml';

function loadDeploy(
  files = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== CERT_MANAGER),
): { file: string; doc: Doc }[] {
  return files.flatMap((file) =>
    loadAll(readFileSync(new URL(file, DEPLOY), 'utf8'))
      .filter((d) => d !== null)
      .map((doc) => ({ file, doc: doc as Doc })),
  );
}

/** Capability names as the kernel headers define them (CAP_X -> X). */
function kernelCapabilities(): Set<string> {
  const header = '/usr/include/linux/capability.h';
  const text = readFileSync(header, 'utf8');
  return new Set(
    [...text.matchAll(/^#define CAP_([A-Z_]+)\s+\d+\s*$/gm)].map((m) => m[1]!).filter((n) => n !== 'LAST_CAP'),
  );
}

const docs = loadDeploy();
const one = (kind: string, name?: string) => {
  const found = docs.filter((d) => d.doc.kind === kind && (!name || d.doc.metadata?.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return found[0]!.doc;
};

test('every manifest parses and matches the schema of its kind', () => {
  assert.ok(docs.length >= 11, `found ${docs.length} documents`);
  const errors = docs.flatMap(({ file, doc }) => {
    const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    return [...schemaErrors(doc, modelOf(doc), where), ...requiredErrors(doc, where)];
  });
  assert.deepEqual(errors, []);
});

test('the schema check itself rejects misspelled fields, wrong types and unknown kinds', () => {
  const ds = structuredClone(one('DaemonSet'));
  ds.spec.template.spec.containers[0].securityContex = {};
  ds.spec.template.spec.hostNetwork = 'yes';
  const errs = schemaErrors(ds, modelOf(ds), 'ds');
  assert.ok(
    errs.some((e) => /containers\[0\]\.securityContex: unknown field of V1Container/.test(e)),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => /hostNetwork: expected a boolean/.test(e)),
    errs.join('\n'),
  );
  assert.deepEqual(schemaErrors({ kind: 'X' }, 'V1Nope', 'x'), ["x: no model V1Nope in the client's schema"]);
  assert.deepEqual(requiredErrors({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } }, 's'), [
    's: missing metadata.namespace',
    's: missing spec.ports',
    's: missing spec.selector',
  ]);
});

test('kustomization lists every manifest, and the image it renames is the one the DaemonSet uses', () => {
  const kz = loadAll(readFileSync(new URL('kustomization.yaml', DEPLOY), 'utf8'))[0] as Doc;
  const files = new Set(docs.map((d) => d.file));
  assert.deepEqual(new Set(kz.resources), files);
  for (const r of kz.resources) assert.ok(existsSync(new URL(r, DEPLOY)), r);
  assert.ok(!kz.resources.includes(CERT_MANAGER), 'cert-manager resources are optional, not in the default');
  assert.equal(kz.namespace, 'stickyscope');
  for (const kind of ['DaemonSet', 'Deployment']) {
    const image = one(kind).spec.template.spec.containers[0].image;
    assert.ok(
      kz.images.some((i: Doc) => i.name === image),
      `images[] renames ${kind}'s ${image}`,
    );
  }
});

test('the agent runs unprivileged with exactly the capabilities it needs', () => {
  const ds = one('DaemonSet');
  const pod = ds.spec.template.spec;
  const text = JSON.stringify(docs.map((d) => d.doc));
  assert.ok(!/"privileged":true/.test(text), 'no privileged: true anywhere');
  assert.equal(pod.hostNetwork, true);
  assert.notEqual(pod.hostPID, true);
  assert.notEqual(pod.hostIPC, true);
  const [c] = pod.containers;
  const caps = c.securityContext.capabilities;
  const valid = kernelCapabilities();
  assert.ok(valid.has('BPF') && valid.has('PERFMON'), 'kernel header lists CAP_BPF and CAP_PERFMON');
  for (const cap of caps.add)
    assert.ok(valid.has(cap), `capability ${cap} is a kernel capability (without the CAP_ prefix)`);
  assert.deepEqual([...caps.add].sort(), ['BPF', 'NET_ADMIN', 'NET_RAW', 'PERFMON']);
  assert.deepEqual(caps.drop, ['ALL']);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  for (const r of ['cpu', 'memory']) {
    assert.ok(c.resources.requests[r], `requests.${r}`);
    assert.ok(c.resources.limits[r], `limits.${r}`);
  }
  // Mounts: BTF read-only from the host; every mount has its volume.
  const volumes = new Map(pod.volumes.map((v: Doc) => [v.name, v]));
  for (const m of c.volumeMounts) assert.ok(volumes.has(m.name), `volume ${m.name}`);
  const btf = c.volumeMounts.find((m: Doc) => m.mountPath === '/sys/kernel/btf');
  assert.equal(btf?.readOnly, true);
  assert.equal((volumes.get(btf.name) as Doc).hostPath.path, '/sys/kernel/btf');
  // Readiness is the agent's ready file, on a writable mount.
  const readyFile = c.args[c.args.indexOf('--ready-file') + 1];
  assert.deepEqual(c.readinessProbe.exec.command, ['test', '-f', readyFile]);
  assert.ok(
    c.volumeMounts.some((m: Doc) => readyFile.startsWith(m.mountPath + '/') && !m.readOnly),
    `${readyFile} is on a writable volume`,
  );
  // The listen port is the declared grpc port.
  const grpc = c.ports.find((p: Doc) => p.name === 'grpc');
  assert.match(c.args[c.args.indexOf('--listen') + 1], new RegExp(`:${grpc.containerPort}$`));
  assert.equal(pod.automountServiceAccountToken, false);
  for (const [k, v] of Object.entries(ds.spec.selector.matchLabels))
    assert.equal(ds.spec.template.metadata.labels[k], v, `template carries selector label ${k}`);
});

test('RBAC: read-only verbs on the allowed resources, bound to accounts that exist', () => {
  const allowed: Record<string, string[]> = {
    '': ['services', 'pods', 'nodes'],
    'discovery.k8s.io': ['endpointslices'],
  };
  const accounts = new Set(
    docs
      .filter((d) => d.doc.kind === 'ServiceAccount')
      .map((d) => `${d.doc.metadata.namespace}/${d.doc.metadata.name}`),
  );
  const roles = docs.filter((d) => d.doc.kind === 'ClusterRole' || d.doc.kind === 'Role').map((d) => d.doc);
  assert.ok(roles.length > 0);
  for (const role of roles) {
    for (const rule of role.rules) {
      assert.deepEqual([...rule.verbs].sort(), ['get', 'list', 'watch'], `${role.metadata.name} verbs`);
      for (const g of rule.apiGroups)
        for (const r of rule.resources)
          assert.ok(allowed[g]?.includes(r), `${role.metadata.name}: ${g || 'core'}/${r} is not on the allowed list`);
      assert.equal(rule.resourceNames, undefined);
    }
  }
  for (const b of docs.filter((d) => d.doc.kind.endsWith('Binding')).map((d) => d.doc)) {
    assert.ok(
      roles.some((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name),
      `${b.metadata.name} binds an existing role`,
    );
    for (const s of b.subjects)
      assert.ok(
        accounts.has(`${s.namespace}/${s.name}`),
        `${b.metadata.name}: subject ${s.namespace}/${s.name} exists`,
      );
  }
  // The agents themselves get no API access at all.
  const agentSa = one('DaemonSet').spec.template.spec.serviceAccountName;
  assert.ok(accounts.has(`stickyscope/${agentSa}`));
  assert.ok(
    !docs.some((d) => d.doc.kind.endsWith('Binding') && d.doc.subjects.some((s: Doc) => s.name === agentSa)),
    'agent account is bound to nothing',
  );
});

test('the headless Service and the NetworkPolicy select the agent pods and their grpc port', () => {
  const pod = one('DaemonSet').spec.template;
  const labels = pod.metadata.labels;
  const selects = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
  const grpc = pod.spec.containers[0].ports.find((p: Doc) => p.name === 'grpc');

  const svc = one('Service', 'stickyscope-agent');
  assert.equal(svc.spec.clusterIP, 'None');
  assert.ok(selects(svc.spec.selector));
  assert.equal(svc.spec.ports[0].targetPort, 'grpc');
  assert.equal(svc.spec.ports[0].port, grpc.containerPort);

  const np = one('NetworkPolicy');
  assert.ok(selects(np.spec.podSelector.matchLabels), 'policy applies to the agents');
  assert.deepEqual(np.spec.policyTypes, ['Ingress']);
  assert.equal(np.spec.ingress.length, 2);
  const [rule, scrape] = np.spec.ingress;
  const metrics = pod.spec.containers[0].ports.find((p: Doc) => p.name === 'metrics');
  assert.deepEqual(
    scrape,
    { ports: [{ protocol: 'TCP', port: metrics.containerPort }] },
    'any scraper, metrics port only',
  );
  assert.deepEqual(rule.ports, [{ protocol: 'TCP', port: grpc.containerPort }]);
  assert.deepEqual(rule.from, [
    { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'stickyscope-aggregator' } } },
  ]);
  assert.ok(!selects(rule.from[0].podSelector.matchLabels), 'agents cannot reach each other');
});

const mountedFiles = (c: Doc, pod: Doc, flag: string) => {
  const path = c.args[c.args.indexOf(flag) + 1] as string;
  const mount = c.volumeMounts.find((m: Doc) => path === m.mountPath || path.startsWith(m.mountPath + '/'));
  assert.ok(mount, `${flag} ${path} is on a mounted volume`);
  return { path, mount, volume: pod.volumes.find((v: Doc) => v.name === mount.name) };
};

test('the agent serves mutual TLS only, from the Secret it mounts read-only', () => {
  const ds = one('DaemonSet');
  const pod = ds.spec.template.spec;
  const [c] = pod.containers;
  assert.ok(!c.args.includes('--insecure'));
  const { path, mount, volume } = mountedFiles(c, pod, '--tls-dir');
  assert.equal(path, mount.mountPath, '--tls-dir is the whole Secret');
  assert.equal(mount.readOnly, true);
  assert.equal(volume.secret?.secretName, 'stickyscope-agent-tls');
  assert.equal(volume.secret.defaultMode & 0o077, 0, 'keys readable by the owner only');
  assert.equal(volume.secret.items, undefined, 'every node finds its own files');
  const nodeName = c.env.find((e: Doc) => e.name === 'NODE_NAME');
  assert.equal(nodeName.valueFrom.fieldRef.fieldPath, 'spec.nodeName');
  assert.equal(
    c.args[c.args.indexOf('--node-name') + 1],
    '$(NODE_NAME)',
    'the agent picks, and its certificate names, the node it runs on',
  );
});

const cmObjects = loadDeploy([CERT_MANAGER]).map((d) => d.doc);
/** The fields used here, per cert-manager kind (cert-manager.io/v1): a misspelling fails. */
const CM_SPEC_FIELDS: Record<string, string[]> = {
  Issuer: ['selfSigned', 'ca'],
  Certificate: [
    'secretName',
    'commonName',
    'dnsNames',
    'duration',
    'renewBefore',
    'usages',
    'isCA',
    'privateKey',
    'issuerRef',
  ],
};
const CM_USAGES = new Set(['digital signature', 'key encipherment', 'server auth', 'client auth', 'cert sign']);

test("cert-manager.yaml: a CA chain of its own, the agents' certificate in the Secret they mount, a client's", async () => {
  const { AGENT_DOMAIN } = await import('../../src/protocol/tls.js');
  for (const o of cmObjects) {
    assert.equal(o.apiVersion, 'cert-manager.io/v1');
    assert.equal(o.metadata.namespace, 'stickyscope');
    for (const k of Object.keys(o.spec))
      assert.ok(CM_SPEC_FIELDS[o.kind]!.includes(k), `${o.kind}/${o.metadata.name}: spec.${k}`);
    for (const u of o.spec.usages ?? []) assert.ok(CM_USAGES.has(u), `${o.metadata.name}: usage '${u}'`);
    if (o.spec.privateKey) assert.deepEqual([o.spec.privateKey.algorithm, o.spec.privateKey.size], ['ECDSA', 256]);
  }
  const issuer = (ref: Doc) => {
    const o = cmObjects.find((x) => x.kind === ref.kind && x.metadata.name === ref.name);
    assert.ok(o, `${ref.kind}/${ref.name} exists`);
    return o;
  };
  const certs = cmObjects.filter((o) => o.kind === 'Certificate');
  // Every certificate chains to the CA certificate, which the self-signed issuer signs.
  const cas = certs.filter((o) => o.spec.isCA);
  assert.equal(cas.length, 1);
  assert.ok('selfSigned' in issuer(cas[0]!.spec.issuerRef).spec);
  for (const leaf of certs.filter((o) => !o.spec.isCA))
    assert.equal(issuer(leaf.spec.issuerRef).spec.ca.secretName, cas[0]!.spec.secretName, leaf.metadata.name);
  // The agents': written to the Secret the DaemonSet mounts, server use only, named in the agents' domain.
  const pod = one('DaemonSet').spec.template.spec;
  const mounted = pod.volumes.find((v: Doc) => v.secret).secret.secretName;
  const agent = certs.filter((o) => o.spec.secretName === mounted);
  assert.equal(agent.length, 1, `one Certificate writes ${mounted}`);
  assert.ok(agent[0]!.spec.usages.includes('server auth') && !agent[0]!.spec.usages.includes('client auth'));
  for (const n of agent[0]!.spec.dnsNames) assert.ok(n.endsWith(`.${AGENT_DOMAIN}`), n);
  const clients = certs.filter((o) => o.spec.usages?.includes('client auth'));
  assert.equal(clients.length, 1);
  assert.ok(!clients[0]!.spec.usages.includes('server auth'));
  // The aggregator's client certificate is the one the Deployment mounts.
  const aggregatorSecret = one('Deployment').spec.template.spec.volumes.find((v: Doc) => v.secret).secret.secretName;
  assert.equal(clients[0]!.spec.secretName, aggregatorSecret);
});

test('the aggregator: serve --k8s under its own account, least privilege, probed on /readyz and /healthz, behind a Service', () => {
  const dep = one('Deployment', 'stickyscope-aggregator');
  const pod = dep.spec.template.spec;
  const [c] = pod.containers;
  assert.deepEqual(c.args.slice(0, 2), ['serve', '--k8s']);
  assert.equal(pod.serviceAccountName, 'stickyscope-aggregator');
  const bound = docs.filter(
    (d) => d.doc.kind.endsWith('Binding') && d.doc.subjects.some((s: Doc) => s.name === 'stickyscope-aggregator'),
  );
  assert.deepEqual(bound.map((d) => d.doc.roleRef.name).sort(), [
    'stickyscope-agent-discovery',
    'stickyscope-aggregator',
  ]);
  // Admitted to the agents' gRPC port by the NetworkPolicy's label.
  assert.equal(dep.spec.template.metadata.labels['app.kubernetes.io/name'], 'stickyscope-aggregator');
  for (const [k, v] of Object.entries(dep.spec.selector.matchLabels))
    assert.equal(dep.spec.template.metadata.labels[k], v, `template carries selector label ${k}`);
  assert.equal(pod.hostNetwork, undefined);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  for (const r of ['cpu', 'memory']) assert.ok(c.resources.requests[r] && c.resources.limits[r], r);
  const http = c.ports.find((p: Doc) => p.name === 'http');
  assert.match(c.args[c.args.indexOf('--listen') + 1], new RegExp(`:${http.containerPort}$`));
  assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
  assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
  const reportDir = c.args[c.args.indexOf('--report-dir') + 1];
  assert.ok(
    c.volumeMounts.some((m: Doc) => m.mountPath === reportDir && !m.readOnly),
    `${reportDir} is a writable mount (the root filesystem is read-only)`,
  );
  // Mutual TLS to the agents from the client Secret, whose files the non-root user reads through fsGroup.
  const tlsFiles = ['--tls-ca', '--tls-cert', '--tls-key'].map((f) => mountedFiles(c, pod, f));
  for (const { mount, volume } of tlsFiles) {
    assert.equal(mount.readOnly, true);
    assert.equal(volume.secret?.secretName, 'stickyscope-client-tls');
  }
  assert.ok(!c.args.includes('--insecure'));
  assert.equal(tlsFiles[0]!.volume.secret.defaultMode & 0o047, 0o040, 'group-readable, not world-readable');
  assert.equal(pod.securityContext.fsGroup, pod.securityContext.runAsGroup);
  const svc = one('Service', 'stickyscope-aggregator');
  assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
  assert.equal(svc.spec.ports[0].targetPort, 'http');
  assert.equal(svc.spec.ports[0].port, http.containerPort);
  // The agent serves its metrics on the declared metrics port.
  const agent = one('DaemonSet').spec.template.spec.containers[0];
  const metrics = agent.ports.find((p: Doc) => p.name === 'metrics');
  assert.match(agent.args[agent.args.indexOf('--metrics') + 1], new RegExp(`:${metrics.containerPort}$`));
});

test('monitoring/: the PodMonitor and ServiceMonitor select the agents and the aggregator by their ports', () => {
  const mon = loadAll(readFileSync(new URL('monitoring/prometheus-operator.yaml', DEPLOY), 'utf8')) as Doc[];
  const kz = loadAll(readFileSync(new URL('kustomization.yaml', DEPLOY), 'utf8'))[0] as Doc;
  assert.ok(
    !kz.resources.some((r: string) => r.startsWith('monitoring')),
    'optional: not in the default kustomization',
  );
  const podMon = mon.find((d) => d.kind === 'PodMonitor')!;
  const svcMon = mon.find((d) => d.kind === 'ServiceMonitor')!;
  for (const d of [podMon, svcMon]) assert.equal(d.apiVersion, 'monitoring.coreos.com/v1');
  const agentPod = one('DaemonSet').spec.template;
  for (const [k, v] of Object.entries(podMon.spec.selector.matchLabels)) assert.equal(agentPod.metadata.labels[k], v);
  const portNames = (tpl: Doc) => tpl.spec.containers.flatMap((c: Doc) => c.ports.map((p: Doc) => p.name));
  assert.ok(portNames(agentPod).includes(podMon.spec.podMetricsEndpoints[0].port));
  const svc = one('Service', 'stickyscope-aggregator');
  for (const [k, v] of Object.entries(svcMon.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[k], v);
  assert.ok(svc.spec.ports.some((p: Doc) => p.name === svcMon.spec.endpoints[0].port));
});

test('the Grafana dashboard queries only metric names the code defines', () => {
  const dash = JSON.parse(readFileSync(new URL('monitoring/grafana-dashboard.json', DEPLOY), 'utf8'));
  const src = ['../../../src/serve/metrics.ts', '../../../src/agent/metrics.ts']
    .map((f) => readFileSync(new URL(f, import.meta.url), 'utf8'))
    .join('\n');
  const defined = new Set([...src.matchAll(/'(stickyscope_[a-z0-9_]+)'/g)].map((m) => m[1]));
  assert.ok(defined.size > 20, `${defined.size} metric names found in the sources`);
  const used = new Set<string>();
  for (const p of dash.panels)
    for (const t of p.targets) for (const m of t.expr.matchAll(/stickyscope_[a-z0-9_]+/g)) used.add(m[0]);
  const missing = [...used].filter((n) => !defined.has(n));
  assert.deepEqual(missing, [], 'every metric the dashboard queries exists');
  for (const want of [
    'stickyscope_service_spread_max_over_mean',
    'stickyscope_service_stickiness_ratio',
    'stickyscope_service_affinity_violations_total',
    'stickyscope_affinity_list_fill_ratio',
    'stickyscope_agent_ring_buffer_lost_records_total',
  ])
    assert.ok(used.has(want), `the dashboard shows ${want}`);
});
