// deploy/*.yaml checked offline: fields and types against @kubernetes/client-node's OpenAPI-generated models (as
// `kubectl apply --validate=strict` would), required fields from a hand-written list, then the project's own rules:
// least privilege, and the pieces referring to each other (labels, ports, accounts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import {
  CERT_MANAGER,
  DEPLOY,
  type Doc,
  docs,
  kernelCapabilities,
  modelOf,
  mountedFiles,
  one,
  requiredErrors,
  schemaErrors,
} from '../helpers/deploy-manifests.js';

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
