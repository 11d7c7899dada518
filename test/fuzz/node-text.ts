// Fuzz targets: text the agent reads from the node, `iptables-save -t nat` (the Service catalog and affinity lists)
// and /proc/net/xt_recent/<list> files. Neither may throw on any text; results must hold what the agent assumes.
import { readFileSync } from 'node:fs';
import { parseNatCatalog } from '../../src/agent/rules-parse.js';
import { parseRecentList } from '../../src/agent/xt-recent.js';
import { InvalidResult, bytes, text, type FuzzTarget } from './target.js';

const fixtures = ['rules-current-kube-proxy.txt', 'rules-seed-my-nginx-affinity.txt', 'rules-seed-gke-php-apache.txt'];
const fixture = (f: string) => readFileSync(new URL(`../../../test/fixtures/${f}`, import.meta.url));

export const iptablesTarget: FuzzTarget = {
  name: 'iptables-save',
  seeds: () => fixtures.map((f) => new Uint8Array(fixture(f))),
  run(input) {
    const c = parseNatCatalog(text(input));
    for (const s of c.services) {
      if (typeof s.service !== 'string' || !Array.isArray(s.endpoints))
        throw new InvalidResult(`a catalog entry without service or endpoints: ${JSON.stringify(s)}`);
    }
  },
};

export const xtRecentTarget: FuzzTarget = {
  name: 'xt-recent',
  seeds: () => [
    bytes(
      'src=10.0.1.2 ttl: 64 last_seen: 4295122898 oldest_pkt: 2 4295122898, 4295122001\n' +
        'src=fd00::7 ttl: 63 last_seen: 4295123000 oldest_pkt: 1 4295123000\n',
    ),
  ],
  run(input) {
    for (const e of parseRecentList(text(input)))
      if (!Number.isFinite(e.lastSeen) || e.client === '')
        throw new InvalidResult(`an entry the eviction watcher cannot compare: ${JSON.stringify(e)}`);
  },
};
