// The lab as a cluster's API shows it: its Services, EndpointSlices and Nodes (src/lab/cluster-objects.ts), one ready
// agent Pod per running lab agent (podIP 127.0.0.1, the agent's port as its "grpc" container port) and the client
// certificate's Secret, as cert-manager keeps it, on the lab's API server. What `--k8s` and kubectl itself read.
import type { TestContext } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import { applyLabObjects } from '../../src/lab/cluster-objects.js';
import type { LabAgents } from './agents.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

const AGENT_NAMESPACE = 'stickyscope';
const AGENT_LABELS = { 'app.kubernetes.io/name': 'stickyscope-agent' };

export async function serveLabApi(t: TestContext, lab: Lab, agents: LabAgents): Promise<FakeApiServer> {
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-api-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const api = await startFakeApiServer({ dir });
  t.after(() => api.close());
  applyLabObjects(api, lab);
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
