// The lab's rules against real kube-proxy output: chain names from kube-proxy's own
// test data and the seed dumps, and whole dumps (as iptables-save prints them back)
// against the field reports in the seed documents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { backendOf, startLab } from '../helpers/lab-fixture.js';
import { endpointChain, serviceChain } from '../../src/kube-proxy/names.js';
import { renderNat } from '../../src/kube-proxy/iptables-render.js';
import { runClient, setEndpoints, type LabConfig } from '../../src/lab/lab.js';

test('chain names hash like kube-proxy', () => {
  // kube-proxy's proxier tests: ns1/svc1:p80 and its endpoint 10.180.0.1:80.
  assert.equal(serviceChain('KUBE-SVC', 'ns1/svc1:p80', 'TCP'), 'KUBE-SVC-XPGD46QRK7WJZT7O');
  assert.equal(endpointChain('ns1/svc1:p80', 'tcp', '10.180.0.1:80'), 'KUBE-SEP-SXIVWICOYRO3J4NJ');
  // Seed dumps (gke-session-affinity-iptables.md, affinity-kube-dns-conntrack.md).
  assert.equal(serviceChain('KUBE-XLB', 'default/php-apache-svc:http', 'tcp'), 'KUBE-XLB-TLHPL6Z5YI33DALW');
  assert.equal(endpointChain('default/php-apache-svc:http', 'tcp', '10.28.8.6:80'), 'KUBE-SEP-IYELN4HVX6HRBXNW');
  assert.equal(serviceChain('KUBE-SVC', 'test/my-nginx', 'tcp'), 'KUBE-SVC-EWPKAXWJ2A225D7H');
  assert.equal(endpointChain('test/my-nginx', 'tcp', '10.24.1.8:80'), 'KUBE-SEP-FSSMT4KUEAZYNFJI');
});

/** Loads rules into a fresh namespace and returns `iptables-save -t nat`. */
function roundTrip(t: { after(fn: () => void): void }, rules: string): string {
  const ns = `${runPrefix()}-rules`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  execFileSync('ip', ['netns', 'exec', ns, 'iptables-restore', '--noflush'], { input: rules });
  return execFileSync('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' });
}

/** Rule lines mentioning the service, grouped by chain, in dump order. */
function byChain(lines: string[], needle: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const l of lines) {
    if (!l.startsWith('-A ') || !l.includes(needle)) continue;
    const chain = l.split(' ')[1]!;
    out[chain] ??= [];
    out[chain].push(l);
  }
  return out;
}

function seedService(
  shape: LabConfig['shape'],
  cidr: string,
  svc: Partial<LabConfig['services'][0]>,
  eps: [string, string][],
): LabConfig {
  return {
    shape,
    nodes: 2,
    clusterCIDR: cidr,
    clients: 0,
    externalClients: 0,
    backends: [],
    services: [
      {
        namespace: 'x',
        name: 'x',
        portName: '',
        clusterIP: '',
        port: 80,
        protocol: 'tcp',
        sessionAffinity: 'None',
        endpoints: eps.map(([ip, node]) => ({ ip, port: 80, pod: ip, node })),
        ...svc,
      },
    ],
  };
}

test('legacy shape reproduces the GKE seed dump (NodePort, Local, ClientIP)', (t) => {
  if (!requireRoot(t)) return;
  const config = seedService(
    'legacy',
    '10.28.0.0/14',
    {
      namespace: 'default',
      name: 'php-apache-svc',
      portName: 'http',
      clusterIP: '10.31.240.99',
      sessionAffinity: 'ClientIP',
      timeoutSeconds: 10800,
      nodePort: 31332,
      externalTrafficPolicy: 'Local',
    },
    [
      ['10.28.8.5', 'node'],
      ['10.28.6.5', 'node2'],
      ['10.28.8.6', 'node'],
      ['10.28.7.6', 'node2'],
    ],
  );
  const dump = roundTrip(t, renderNat(config, 'node', { jumps: true }).text);
  assert.deepEqual(
    byChain(dump.split('\n'), 'default/php-apache-svc:http'),
    byChain(gkeSeed, 'default/php-apache-svc:http'),
  );
});

test('current shape reproduces the kube-dns seed dump (ClusterIP, ClientIP 20 s)', (t) => {
  if (!requireRoot(t)) return;
  const config = seedService(
    'current',
    '10.24.0.0/24',
    {
      namespace: 'test',
      name: 'my-nginx',
      clusterIP: '10.87.20.145',
      sessionAffinity: 'ClientIP',
      timeoutSeconds: 20,
    },
    [
      ['10.24.2.6', 'node'],
      ['10.24.1.8', 'node'],
      ['10.24.0.16', 'node'],
    ],
  );
  const dump = roundTrip(t, renderNat(config, 'node', { jumps: true }).text);
  assert.deepEqual(byChain(dump.split('\n'), 'test/my-nginx'), byChain(dnsSeed, 'test/my-nginx'));
});

test('the default lab parses back with the expected chains, and affinity survives an endpoint change', async (t) => {
  if (!requireRoot(t)) return;
  const lab = await startLab(t);
  const save = () =>
    execFileSync('ip', ['netns', 'exec', lab.nodes[0]!, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' });
  const dump = save();
  const chains = dump
    .split('\n')
    .filter((l) => l.startsWith(':KUBE-'))
    .map((l) => l.slice(1).split(' ')[0]!);
  const count = (p: string) => chains.filter((c) => new RegExp(`^${p}-[A-Z2-7]{16}$`).test(c)).length;
  // lab/empty:http has no endpoints, so no nat chains; lab/lb:http has its KUBE-EXT and, for its source ranges, KUBE-FW.
  assert.deepEqual(
    [count('KUBE-SVC'), count('KUBE-SEP'), count('KUBE-EXT'), count('KUBE-SVL'), count('KUBE-FW')],
    [5, 15, 2, 1, 1],
  );
  for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'])
    assert.ok(chains.includes(c), c);
  assert.match(dump, /^-A PREROUTING .*-j KUBE-SERVICES$/m);
  assert.match(dump, /^-A POSTROUTING .*-j KUBE-POSTROUTING$/m);
  assert.match(
    dump,
    /--comment "lab\/web:http -> 10\.1\.1\.2:8080" -m statistic --mode random --probability 0\.33333333349 -j KUBE-SEP-/,
  );
  assert.match(
    dump,
    /-m recent --rcheck --seconds 10 --reap --name KUBE-SEP-\S+ --mask 255\.255\.255\.255 --rsource -j KUBE-SEP-/,
  );
  assert.match(
    dump,
    /^-A KUBE-NODEPORTS -p tcp -m comment --comment "lab\/edge:http" -m tcp --dport 30080 -j KUBE-EXT-/m,
  );

  // Pin c1 on lab/sticky, remove another endpoint: the pinned one keeps its chain and its list.
  const first = await backendOf(
    lab,
    await runClient(lab, 'c1', { service: 'lab/sticky:http', mode: 'http', count: 3 }),
  );
  const pinned = new Set([...first.values()].map((l) => l!.backend));
  assert.equal(pinned.size, 1);
  const sticky = lab.services.find((s) => s.name === 'sticky')!;
  const keep = sticky.endpoints
    .filter((e) => e.pod !== [...pinned][0])
    .slice(1)
    .concat(sticky.endpoints.filter((e) => pinned.has(e.pod)));
  await setEndpoints(lab, 'lab/sticky:http', keep);
  const after = save();
  assert.equal(after.split('\n').filter((l) => l.includes('"lab/sticky:http"') && l.includes('DNAT')).length, 2);
  assert.equal(
    after.split('\n').filter((l) => l.startsWith(':KUBE-SEP-')).length,
    14,
    'the removed endpoint chain is deleted',
  );
  const second = await backendOf(
    lab,
    await runClient(lab, 'c1', { service: 'lab/sticky:http', mode: 'http', count: 3 }),
  );
  assert.deepEqual(new Set([...second.values()].map((l) => l!.backend)), pinned, 'affinity held across the re-sync');
});

const gkeSeed = `
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/php-apache-svc:http" -m tcp --dport 31332 -j KUBE-XLB-TLHPL6Z5YI33DALW
-A KUBE-SEP-IYELN4HVX6HRBXNW -s 10.28.8.6/32 -m comment --comment "default/php-apache-svc:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-IYELN4HVX6HRBXNW -p tcp -m comment --comment "default/php-apache-svc:http" -m recent --set --name KUBE-SEP-IYELN4HVX6HRBXNW --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.28.8.6:80
-A KUBE-SEP-L7T7MUF6AEBEWCCN -s 10.28.6.5/32 -m comment --comment "default/php-apache-svc:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-L7T7MUF6AEBEWCCN -p tcp -m comment --comment "default/php-apache-svc:http" -m recent --set --name KUBE-SEP-L7T7MUF6AEBEWCCN --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.28.6.5:80
-A KUBE-SEP-LRDQVXAG5PE7TSRT -s 10.28.7.6/32 -m comment --comment "default/php-apache-svc:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-LRDQVXAG5PE7TSRT -p tcp -m comment --comment "default/php-apache-svc:http" -m recent --set --name KUBE-SEP-LRDQVXAG5PE7TSRT --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.28.7.6:80
-A KUBE-SEP-SGFKGWTTGOP4QXUH -s 10.28.8.5/32 -m comment --comment "default/php-apache-svc:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-SGFKGWTTGOP4QXUH -p tcp -m comment --comment "default/php-apache-svc:http" -m recent --set --name KUBE-SEP-SGFKGWTTGOP4QXUH --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.28.8.5:80
-A KUBE-SERVICES ! -s 10.28.0.0/14 -d 10.31.240.99/32 -p tcp -m comment --comment "default/php-apache-svc:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -d 10.31.240.99/32 -p tcp -m comment --comment "default/php-apache-svc:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-TLHPL6Z5YI33DALW
-A KUBE-SVC-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-L7T7MUF6AEBEWCCN --mask 255.255.255.255 --rsource -j KUBE-SEP-L7T7MUF6AEBEWCCN
-A KUBE-SVC-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-LRDQVXAG5PE7TSRT --mask 255.255.255.255 --rsource -j KUBE-SEP-LRDQVXAG5PE7TSRT
-A KUBE-SVC-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-SGFKGWTTGOP4QXUH --mask 255.255.255.255 --rsource -j KUBE-SEP-SGFKGWTTGOP4QXUH
-A KUBE-SVC-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-IYELN4HVX6HRBXNW --mask 255.255.255.255 --rsource -j KUBE-SEP-IYELN4HVX6HRBXNW
-A KUBE-SVC-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -m statistic --mode random --probability 0.25000000000 -j KUBE-SEP-L7T7MUF6AEBEWCCN
-A KUBE-SVC-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -m statistic --mode random --probability 0.33332999982 -j KUBE-SEP-LRDQVXAG5PE7TSRT
-A KUBE-SVC-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-SGFKGWTTGOP4QXUH
-A KUBE-SVC-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -j KUBE-SEP-IYELN4HVX6HRBXNW
-A KUBE-XLB-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-SGFKGWTTGOP4QXUH --mask 255.255.255.255 --rsource -j KUBE-SEP-SGFKGWTTGOP4QXUH
-A KUBE-XLB-TLHPL6Z5YI33DALW -m comment --comment "default/php-apache-svc:http" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-IYELN4HVX6HRBXNW --mask 255.255.255.255 --rsource -j KUBE-SEP-IYELN4HVX6HRBXNW
-A KUBE-XLB-TLHPL6Z5YI33DALW -m comment --comment "Balancing rule 0 for default/php-apache-svc:http" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-SGFKGWTTGOP4QXUH
-A KUBE-XLB-TLHPL6Z5YI33DALW -m comment --comment "Balancing rule 1 for default/php-apache-svc:http" -j KUBE-SEP-IYELN4HVX6HRBXNW
`.split('\n');

const dnsSeed = `
-A KUBE-SEP-6NWFNFWFHZHIJD3A -s 10.24.2.6/32 -m comment --comment "test/my-nginx" -j KUBE-MARK-MASQ
-A KUBE-SEP-6NWFNFWFHZHIJD3A -p tcp -m comment --comment "test/my-nginx" -m recent --set --name KUBE-SEP-6NWFNFWFHZHIJD3A --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.24.2.6:80
-A KUBE-SEP-FSSMT4KUEAZYNFJI -s 10.24.1.8/32 -m comment --comment "test/my-nginx" -j KUBE-MARK-MASQ
-A KUBE-SEP-FSSMT4KUEAZYNFJI -p tcp -m comment --comment "test/my-nginx" -m recent --set --name KUBE-SEP-FSSMT4KUEAZYNFJI --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.24.1.8:80
-A KUBE-SEP-LB56UD7DRAMFR6O4 -s 10.24.0.16/32 -m comment --comment "test/my-nginx" -j KUBE-MARK-MASQ
-A KUBE-SEP-LB56UD7DRAMFR6O4 -p tcp -m comment --comment "test/my-nginx" -m recent --set --name KUBE-SEP-LB56UD7DRAMFR6O4 --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.24.0.16:80
-A KUBE-SERVICES -d 10.87.20.145/32 -p tcp -m comment --comment "test/my-nginx cluster IP" -m tcp --dport 80 -j KUBE-SVC-EWPKAXWJ2A225D7H
-A KUBE-SVC-EWPKAXWJ2A225D7H ! -s 10.24.0.0/24 -d 10.87.20.145/32 -p tcp -m comment --comment "test/my-nginx cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-EWPKAXWJ2A225D7H -m comment --comment "test/my-nginx -> 10.24.0.16:80" -m recent --rcheck --seconds 20 --reap --name KUBE-SEP-LB56UD7DRAMFR6O4 --mask 255.255.255.255 --rsource -j KUBE-SEP-LB56UD7DRAMFR6O4
-A KUBE-SVC-EWPKAXWJ2A225D7H -m comment --comment "test/my-nginx -> 10.24.1.8:80" -m recent --rcheck --seconds 20 --reap --name KUBE-SEP-FSSMT4KUEAZYNFJI --mask 255.255.255.255 --rsource -j KUBE-SEP-FSSMT4KUEAZYNFJI
-A KUBE-SVC-EWPKAXWJ2A225D7H -m comment --comment "test/my-nginx -> 10.24.2.6:80" -m recent --rcheck --seconds 20 --reap --name KUBE-SEP-6NWFNFWFHZHIJD3A --mask 255.255.255.255 --rsource -j KUBE-SEP-6NWFNFWFHZHIJD3A
-A KUBE-SVC-EWPKAXWJ2A225D7H -m comment --comment "test/my-nginx -> 10.24.0.16:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-LB56UD7DRAMFR6O4
-A KUBE-SVC-EWPKAXWJ2A225D7H -m comment --comment "test/my-nginx -> 10.24.1.8:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-FSSMT4KUEAZYNFJI
-A KUBE-SVC-EWPKAXWJ2A225D7H -m comment --comment "test/my-nginx -> 10.24.2.6:80" -j KUBE-SEP-6NWFNFWFHZHIJD3A
`.split('\n');
