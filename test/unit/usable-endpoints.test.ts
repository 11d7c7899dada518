// The endpoints one node's kube-proxy uses (src/kube-proxy/usable-endpoints.ts) against the rules docs/lab.md states
// ("Topology"), case by case: each expected set below is worked out by hand from those rules, not from the code.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { KubeEndpoint, KubeServicePort } from '../../src/kube-proxy/model.js';
import { usableEndpoints } from '../../src/kube-proxy/usable-endpoints.js';

// Three zones: b1 and b2 on node (zone a), b3 on node2 (zone b), b4 on node3 (zone c).
const ep = (pod: string, node: string, zone: string, more: Partial<KubeEndpoint> = {}): KubeEndpoint => ({
  ip: `10.1.${pod.slice(1)}.2`,
  port: 8080,
  pod,
  node,
  zone,
  ...more,
});
const sameZone = (e: KubeEndpoint): KubeEndpoint => ({ ...e, hints: { zones: [e.zone!] } });
const sameNode = (e: KubeEndpoint): KubeEndpoint => ({ ...e, hints: { zones: [e.zone!], nodes: [e.node] } });
const plain = [ep('b1', 'node', 'a'), ep('b2', 'node', 'a'), ep('b3', 'node2', 'b'), ep('b4', 'node3', 'c')];
const svc = (endpoints: KubeEndpoint[], more: Partial<KubeServicePort> = {}): KubeServicePort => ({
  namespace: 'lab',
  name: 'web',
  portName: 'http',
  clusterIP: '10.96.0.10',
  port: 80,
  protocol: 'tcp',
  sessionAffinity: 'None',
  endpoints,
  ...more,
});
const pods = (eps: KubeEndpoint[]) => eps.map((e) => e.pod).sort();

test('no hints: every ready endpoint, on every node', () => {
  for (const node of ['node', 'node2', 'node4']) {
    const u = usableEndpoints(svc(plain), node, 'a');
    assert.deepEqual(pods(u.cluster), ['b1', 'b2', 'b3', 'b4']);
    assert.deepEqual(pods(u.local), []);
    assert.equal(u.mode, '');
    assert.equal(u.any, true);
  }
});

test('zone hints on every endpoint: the node keeps its zone', () => {
  const s = svc(plain.map(sameZone));
  assert.deepEqual(pods(usableEndpoints(s, 'node', 'a').cluster), ['b1', 'b2']);
  assert.deepEqual(pods(usableEndpoints(s, 'node2', 'b').cluster), ['b3']);
  assert.equal(usableEndpoints(s, 'node2', 'b').mode, 'PreferSameZone');
  // A zone no endpoint is hinted for, and a node without a zone label: every ready endpoint.
  assert.deepEqual(pods(usableEndpoints(s, 'node5', 'd').cluster), ['b1', 'b2', 'b3', 'b4']);
  assert.deepEqual(pods(usableEndpoints(s, 'node5', undefined).cluster), ['b1', 'b2', 'b3', 'b4']);
});

test('one ready endpoint without a hint turns every node back to all endpoints', () => {
  const eps = plain.map(sameZone);
  eps[2] = { ...eps[2]!, hints: {} };
  const u = usableEndpoints(svc(eps), 'node', 'a');
  assert.equal(u.mode, '');
  assert.deepEqual(pods(u.cluster), ['b1', 'b2', 'b3', 'b4']);
  // ...unless that endpoint is not ready: only ready endpoints' hints count.
  eps[2] = { ...eps[2]!, ready: false };
  assert.deepEqual(pods(usableEndpoints(svc(eps), 'node', 'a').cluster), ['b1', 'b2']);
});

test('node hints: same node first, else same zone, else all', () => {
  const s = svc(plain.map(sameNode));
  assert.deepEqual(pods(usableEndpoints(s, 'node', 'a').cluster), ['b1', 'b2']);
  assert.equal(usableEndpoints(s, 'node', 'a').mode, 'PreferSameNode');
  // node4 in zone b hosts no endpoint: the zone hints decide.
  assert.deepEqual(pods(usableEndpoints(s, 'node4', 'b').cluster), ['b3']);
  assert.equal(usableEndpoints(s, 'node4', 'b').mode, 'PreferSameZone');
  assert.deepEqual(pods(usableEndpoints(s, 'node4', 'z').cluster), ['b1', 'b2', 'b3', 'b4']);
});

test('hints naming a zone no node has: nodes elsewhere use every endpoint', () => {
  const eps = plain.map((e) => ({ ...e, hints: { zones: ['mars'] } }));
  for (const [node, zone] of [
    ['node', 'a'],
    ['node2', 'b'],
  ] as const)
    assert.deepEqual(pods(usableEndpoints(svc(eps), node, zone).cluster), ['b1', 'b2', 'b3', 'b4']);
});

test('serving-terminating endpoints only when no endpoint is ready', () => {
  const going = { ready: false, serving: true, terminating: true };
  const dead = { ready: false, serving: false, terminating: true };
  const eps = [ep('b1', 'node', 'a', going), ep('b2', 'node', 'a', dead), ep('b3', 'node2', 'b')];
  assert.deepEqual(pods(usableEndpoints(svc(eps), 'node', 'a').cluster), ['b3']);
  eps[2] = ep('b3', 'node2', 'b', going);
  const u = usableEndpoints(svc(eps), 'node', 'a');
  assert.deepEqual(pods(u.cluster), ['b1', 'b3']);
  assert.equal(u.any, true);
  eps[0] = ep('b1', 'node', 'a', dead);
  eps[2] = ep('b3', 'node2', 'b', dead);
  assert.equal(usableEndpoints(svc(eps), 'node', 'a').any, false);
});

test('internalTrafficPolicy Local: the node own endpoints, none elsewhere', () => {
  const s = svc(plain, { internalTrafficPolicy: 'Local' });
  const here = usableEndpoints(s, 'node', 'a');
  assert.deepEqual(pods(here.local), ['b1', 'b2']);
  assert.deepEqual(pods(here.cluster), []);
  assert.deepEqual(pods(here.reachable), ['b1', 'b2']);
  const empty = usableEndpoints(s, 'node4', 'b');
  assert.deepEqual(pods(empty.local), []);
  assert.deepEqual(pods(empty.reachable), []);
  assert.equal(empty.any, true, 'the Service has endpoints elsewhere: its traffic here is dropped, not rejected');
  // Local uses the node's serving-terminating endpoints when it has no ready one, whatever other nodes have.
  const eps = [ep('b1', 'node', 'a', { ready: false, serving: true, terminating: true }), ep('b3', 'node2', 'b')];
  assert.deepEqual(pods(usableEndpoints(svc(eps, { internalTrafficPolicy: 'Local' }), 'node', 'a').local), ['b1']);
});

test('externalTrafficPolicy Local with a NodePort: both lists, topology on the cluster one only', () => {
  const s = svc(plain.map(sameZone), { nodePort: 30080, externalTrafficPolicy: 'Local' });
  const u = usableEndpoints(s, 'node2', 'b');
  assert.deepEqual(pods(u.cluster), ['b3']);
  assert.deepEqual(pods(u.local), ['b3']);
  const v = usableEndpoints(s, 'node', 'a');
  assert.deepEqual(pods(v.cluster), ['b1', 'b2']);
  assert.deepEqual(pods(v.reachable), ['b1', 'b2']);
  // Without external access, externalTrafficPolicy Local means nothing.
  assert.deepEqual(pods(usableEndpoints(svc(plain, { externalTrafficPolicy: 'Local' }), 'node', 'a').local), []);
});

test('no endpoints: nothing usable', () => {
  const u = usableEndpoints(svc([]), 'node', 'a');
  assert.equal(u.any, false);
  assert.deepEqual(u.reachable, []);
});
