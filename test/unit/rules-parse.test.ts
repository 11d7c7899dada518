// The nat-rules parser on the seed dumps (verbatim from shared/seeds/) and on a
// current-kube-proxy fixture; expected values were read off the dumps by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseNatCatalog, tokenize } from '../../src/kube-proxy/iptables-parse.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url), 'utf8');
const sorted = (xs: string[]) => [...xs].sort();

test('seed: test/my-nginx without affinity', () => {
  const c = parseNatCatalog(fixture('rules-seed-my-nginx.txt'));
  assert.equal(c.services.length, 1);
  const s = c.services[0]!;
  assert.equal(s.service, '10.87.20.145:80/tcp');
  assert.equal(s.name, 'test/my-nginx');
  assert.deepEqual(s.affinity, { mode: 'None', timeoutSeconds: null, source: 'rules' });
  assert.deepEqual(sorted(s.endpoints), ['10.24.0.16:80', '10.24.1.8:80', '10.24.2.6:80']);
  assert.equal(c.lists.size, 0);
});

test('seed: test/my-nginx with ClientIP affinity, 20 s', () => {
  const c = parseNatCatalog(fixture('rules-seed-my-nginx-affinity.txt'));
  assert.equal(c.services.length, 1);
  const s = c.services[0]!;
  assert.equal(s.service, '10.87.20.145:80/tcp');
  assert.equal(s.name, 'test/my-nginx');
  assert.deepEqual(s.affinity, { mode: 'ClientIP', timeoutSeconds: 20, source: 'rules' });
  assert.deepEqual(sorted(s.endpoints), ['10.24.0.16:80', '10.24.1.8:80', '10.24.2.6:80']);
  assert.deepEqual(Object.fromEntries(c.lists), {
    'KUBE-SEP-6NWFNFWFHZHIJD3A': { endpoint: '10.24.2.6:80', service: '10.87.20.145:80/tcp', timeoutSeconds: 20 },
    'KUBE-SEP-FSSMT4KUEAZYNFJI': { endpoint: '10.24.1.8:80', service: '10.87.20.145:80/tcp', timeoutSeconds: 20 },
    'KUBE-SEP-LB56UD7DRAMFR6O4': { endpoint: '10.24.0.16:80', service: '10.87.20.145:80/tcp', timeoutSeconds: 20 },
  });
});

test('seed: GKE php-apache-svc, 4 endpoints, 10800 s, NodePort through KUBE-XLB', () => {
  const c = parseNatCatalog(fixture('rules-seed-gke-php-apache.txt'));
  assert.equal(c.services.length, 1);
  const s = c.services[0]!;
  assert.equal(s.service, '10.31.240.99:80/tcp');
  assert.equal(s.name, 'default/php-apache-svc:http');
  assert.deepEqual(s.affinity, { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' });
  assert.deepEqual(sorted(s.endpoints), ['10.28.6.5:80', '10.28.7.6:80', '10.28.8.5:80', '10.28.8.6:80']);
  assert.equal(c.lists.size, 4);
  assert.deepEqual(c.lists.get('KUBE-SEP-SGFKGWTTGOP4QXUH'), {
    endpoint: '10.28.8.5:80',
    service: '10.31.240.99:80/tcp',
    timeoutSeconds: 10800,
  });
  assert.deepEqual(Object.fromEntries(c.nodePorts), {
    '31332/tcp': {
      name: 'default/php-apache-svc:http',
      affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' },
      endpoints: c.nodePorts.get('31332/tcp')!.endpoints,
    },
  });
  // KUBE-XLB (externalTrafficPolicy Local): the node-local endpoints only.
  assert.deepEqual(sorted(c.nodePorts.get('31332/tcp')!.endpoints), ['10.28.8.5:80', '10.28.8.6:80']);
});

test('current kube-proxy: hashed names, KUBE-EXT/KUBE-SVL, port names, normalised recent options', () => {
  const c = parseNatCatalog(fixture('rules-current-kube-proxy.txt'));
  const by = Object.fromEntries(c.services.map((s) => [s.service, s]));
  assert.deepEqual(Object.keys(by).sort(), [
    '10.96.0.10:80/tcp',
    '10.96.0.53:53/tcp',
    '10.96.0.53:53/udp',
    '10.96.7.7:3478/udp',
    '192.168.99.10:80/tcp',
  ]);

  const web = by['10.96.0.10:80/tcp']!;
  assert.equal(web.name, 'lab/web:http');
  assert.deepEqual(web.affinity, { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' });
  assert.deepEqual(sorted(web.endpoints), ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080']);

  // The load-balancer address reaches the cluster-wide chain (pod and local traffic) and the node-local one.
  const lb = by['192.168.99.10:80/tcp']!;
  assert.equal(lb.name, 'lab/web:http');
  assert.deepEqual(lb.affinity, { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' });
  assert.deepEqual(sorted(lb.endpoints), ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080']);

  assert.equal(by['10.96.0.53:53/udp']!.name, 'lab/dns:dns');
  assert.deepEqual(by['10.96.0.53:53/udp']!.affinity, { mode: 'None', timeoutSeconds: null, source: 'rules' });
  assert.deepEqual(sorted(by['10.96.0.53:53/udp']!.endpoints), ['10.1.1.5:53', '10.1.2.5:53']);
  assert.equal(by['10.96.0.53:53/tcp']!.name, 'lab/dns:dns-tcp');
  assert.deepEqual(sorted(by['10.96.0.53:53/tcp']!.endpoints), ['10.1.1.5:53', '10.1.2.5:53']);

  const stun = by['10.96.7.7:3478/udp']!;
  assert.deepEqual(stun.affinity, { mode: 'ClientIP', timeoutSeconds: 60, source: 'rules' });
  assert.deepEqual(stun.endpoints, ['10.1.3.9:3478']);

  assert.deepEqual(
    Object.fromEntries([...c.nodePorts].map(([k, v]) => [k, { ...v, endpoints: sorted(v.endpoints) }])),
    {
      '30080/tcp': {
        name: 'lab/web:http',
        affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' },
        endpoints: ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'],
      },
    },
  );
  assert.deepEqual(c.lists.get('KUBE-SEP-7HBN3VZ2VNL3F6XO'), {
    endpoint: '10.1.2.2:8080',
    service: '10.96.0.10:80/tcp',
    timeoutSeconds: 10800,
  });
  assert.deepEqual(c.lists.get('KUBE-SEP-WJBR3SJ4QZCHAO5D'), {
    endpoint: '10.1.3.9:3478',
    service: '10.96.7.7:3478/udp',
    timeoutSeconds: 60,
  });
  assert.equal(c.lists.size, 4);
});

test('no kube-proxy rules: an empty catalog, not an error', () => {
  const c = parseNatCatalog('*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n');
  assert.deepEqual(c.services, []);
});

test('quoted comments keep their spaces and escaped quotes', () => {
  assert.deepEqual(tokenize('-A X -m comment --comment "a \\"b\\" c" -j Y'), [
    '-A',
    'X',
    '-m',
    'comment',
    '--comment',
    'a "b" c',
    '-j',
    'Y',
  ]);
});
