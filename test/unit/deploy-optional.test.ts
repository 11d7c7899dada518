// The optional and aggregator-side manifests checked offline: cert-manager.yaml, the aggregator's Deployment and
// Service, monitoring/ (Prometheus Operator objects, the Grafana dashboard against the metric names the code defines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import { CERT_MANAGER, DEPLOY, type Doc, docs, loadDeploy, mountedFiles, one } from '../helpers/deploy-manifests.js';

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

test("the aggregator's reports: mutual TLS on their own port, the Secret mounted and made by cert-manager; none in plaintext", async () => {
  const { AGGREGATOR_NAMES } = await import('../../src/certs/make-certs.js');
  const { isLoopback } = await import('../../src/protocol/tls.js');
  const pod = one('Deployment', 'stickyscope-aggregator').spec.template.spec;
  const [c] = pod.containers;
  const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1] as string;
  // The plain port is for Prometheus and the kubelet: beyond loopback, serve answers /report.* 403 there.
  assert.ok(!isLoopback(arg('--listen')), 'the plain listener is reachable, so it serves no report');
  const reports = c.ports.find((p: Doc) => p.name === 'reports');
  assert.ok(reports, 'a reports port');
  assert.match(arg('--report-listen'), new RegExp(`:${reports.containerPort}$`));
  const { mount, volume } = mountedFiles(c, pod, '--report-tls-dir');
  assert.equal(mount.readOnly, true);
  assert.equal(volume.secret.defaultMode & 0o047, 0o040, 'group-readable, not world-readable');
  const cert = cmObjects.find((o) => o.kind === 'Certificate' && o.spec.secretName === volume.secret.secretName);
  assert.ok(cert, `a Certificate writes ${volume.secret.secretName}`);
  assert.ok(cert.spec.usages.includes('server auth') && !cert.spec.usages.includes('client auth'));
  assert.deepEqual(cert.spec.dnsNames, AGGREGATOR_NAMES, "cert-manager's names are those of 'stickyscope certs'");
  // Its ca.crt (the issuing CA) is the one that signs the client certificate: that client reads the reports.
  const client = cmObjects.find((o) => o.kind === 'Certificate' && o.spec.usages?.includes('client auth'));
  assert.deepEqual(cert.spec.issuerRef, client?.spec.issuerRef);
  const svc = one('Service', 'stickyscope-aggregator');
  const port = svc.spec.ports.find((p: Doc) => p.name === 'reports');
  assert.deepEqual([port?.port, port?.targetPort], [reports.containerPort, 'reports']);
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
    'stickyscope_node_backend_selections_total',
    'stickyscope_node_consecutive_selections_kept_backend_total',
  ])
    assert.ok(used.has(want), `the dashboard shows ${want}`);
});
