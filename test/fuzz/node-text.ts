// Fuzz targets: text the agent reads from the node, `iptables-save -t nat` and `ip6tables-save -t nat` (the Service
// catalog and affinity lists), kube-proxy's nftables tables as `nft -j` prints them (both families, both shapes) and
// /proc/net/xt_recent/<list> files. None may throw but a typed error; results must hold what the agent assumes.
import { readFileSync } from 'node:fs';
import { parseNftCatalog } from '../../src/kube-proxy/nft-parse.js';
import { parseNftSets } from '../../src/agent/nft-sets.js';
import { parseNatCatalog } from '../../src/kube-proxy/iptables-parse.js';
import { parseRecentList } from '../../src/agent/xt-recent.js';
import { addressProblem } from '../../src/protocol/validate.js';
import { InvalidResult, bytes, text, type FuzzTarget } from './target.js';

const fixtures = [
  'rules-current-kube-proxy.txt',
  'rules-seed-my-nginx-affinity.txt',
  'rules-seed-gke-php-apache.txt',
  'v6/ip6tables-save.txt',
];
const nftFixtures = ['nft/lab-1.35-node.json', 'nft/lab-1.36-node.json', 'v6/nft-1.35.json', 'v6/nft-1.36.json'];
const fixture = (f: string) => readFileSync(new URL(`../../../test/fixtures/${f}`, import.meta.url));

/** What the consumers' validation (src/protocol/validate.ts) accepts: else the whole catalog would be dropped. */
function checkAddresses(service: string, endpoints: string[]): void {
  const slash = service.lastIndexOf('/');
  const proto = service.slice(slash + 1);
  const bad = [service.slice(0, slash), ...endpoints].find((a) => addressProblem(a, 'x', true) !== null);
  if (slash < 0 || !['tcp', 'udp', 'sctp'].includes(proto) || bad !== undefined)
    throw new InvalidResult(`a catalog address consumers refuse: ${JSON.stringify(bad ?? service)}`);
}

export const iptablesTarget: FuzzTarget = {
  name: 'iptables-save',
  seeds: () => fixtures.map((f) => new Uint8Array(fixture(f))),
  run(input) {
    const c = parseNatCatalog(text(input));
    for (const s of c.services) {
      if (typeof s.service !== 'string' || !Array.isArray(s.endpoints))
        throw new InvalidResult(`a catalog entry without service or endpoints: ${JSON.stringify(s)}`);
      checkAddresses(s.service, s.endpoints);
    }
  },
};

export const nftTarget: FuzzTarget = {
  name: 'nft-json',
  seeds: () => [...nftFixtures, 'v6/nft-1.36-sets.json'].map((f) => new Uint8Array(fixture(f))),
  run(input) {
    // The same text as a table and as a sets listing: both readers see whatever nft printed.
    const sets = parseNftSets(text(input));
    for (const s of sets.values())
      for (const c of s.clients) if (typeof c !== 'string') throw new InvalidResult(`a set element ${c}`);
    for (const s of parseNftCatalog(text(input)).services) checkAddresses(s.service, s.endpoints);
  },
};

export const xtRecentTarget: FuzzTarget = {
  name: 'xt-recent',
  seeds: () => [
    bytes(
      'src=10.0.1.2 ttl: 64 last_seen: 4295122898 oldest_pkt: 2 4295122898, 4295122001\n' +
        'src=fd00::7 ttl: 63 last_seen: 4295123000 oldest_pkt: 1 4295123000\n' +
        'src=fd00:0000:0001:0000:0000:0000:0000:0002 ttl: 0 last_seen: 4297902744 oldest_pkt: 1 4297902744\n',
    ),
  ],
  run(input) {
    for (const e of parseRecentList(text(input)))
      if (!Number.isFinite(e.lastSeen) || e.client === '')
        throw new InvalidResult(`an entry the eviction watcher cannot compare: ${JSON.stringify(e)}`);
  },
};
