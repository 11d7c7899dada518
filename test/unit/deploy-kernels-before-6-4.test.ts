// deploy/kernels-before-6.4: the kustomize component for nodes without netfilter BPF links adds
// CAP_SYS_ADMIN and CAP_SYS_RESOURCE to the agent (what fentry and kprobe need on Debian's and
// Ubuntu's kernels, measured by the kernel matrix's caps rows) and changes nothing else, built by
// kustomize itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { requireTools } from '../helpers/env.js';

const deploy = fileURLToPath(new URL('../../../deploy', import.meta.url));

/** `kubectl kustomize` of an overlay made here: deploy/ alone, or with the component. */
function build(withComponent: boolean): Record<string, unknown>[] {
  const dir = mkdtempSync(`${tmpdir()}/ss-kz-`);
  try {
    const rel = relative(dir, deploy);
    const components = withComponent ? `components:\n  - ${rel}/kernels-before-6.4\n` : '';
    writeFileSync(`${dir}/kustomization.yaml`, `resources:\n  - ${rel}\n${components}`);
    const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, `kubectl kustomize: ${r.stderr}`);
    return loadAll(r.stdout) as Record<string, unknown>[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the kernels-before-6.4 component adds SYS_ADMIN and SYS_RESOURCE to the agent and nothing else', (t) => {
  if (!requireTools(t, 'kubectl')) return;
  const base = build(false);
  const withIt = build(true);
  assert.equal(withIt.length, base.length);
  const agent = (docs: Record<string, unknown>[]) =>
    docs.find((d) => d.kind === 'DaemonSet') as {
      spec: { template: { spec: { containers: { securityContext: { capabilities: { add: string[] } } }[] } } };
    };
  const caps = (docs: Record<string, unknown>[]) =>
    agent(docs).spec.template.spec.containers[0]!.securityContext.capabilities;
  assert.deepEqual(caps(withIt).add, [...caps(base).add, 'SYS_ADMIN', 'SYS_RESOURCE']);
  for (const c of ['SYS_ADMIN', 'SYS_RESOURCE'])
    assert.ok(!caps(base).add.includes(c), `the base DaemonSet stays without ${c}`);
  caps(withIt).add = caps(base).add;
  assert.deepEqual(withIt, base, 'every other object and field is as in deploy/');
});
