// The IPv6 fixtures of test/unit/agent-v6-rules.test.ts, made again by the real tools (ip6tables-restore/-save,
// nft -f/-j, /proc/net/xt_recent) in a throwaway namespace: today's tools must still give what the committed dumps
// give. STICKYSCOPE_UPDATE_FIXTURES=1 writes the new dumps over test/fixtures/v6/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNftCatalog } from '../../src/kube-proxy/nft-parse.js';
import { parseNftSets } from '../../src/agent/nft-sets.js';
import { parseNatCatalog } from '../../src/kube-proxy/iptables-parse.js';
import { parseRecentList } from '../../src/agent/xt-recent.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { netnsNames } from '../helpers/lab-fixture.js';
import { makeV6Fixtures } from '../helpers/v6-fixtures.js';

const committed = fileURLToPath(new URL('../../../test/fixtures/v6/', import.meta.url));

/** What the agent reads from each dump (jiffies, handles and timestamps left out). */
function readAll(dir: string): Record<string, unknown> {
  const text = (f: string) => readFileSync(join(dir, f), 'utf8');
  const out: Record<string, unknown> = {};
  for (const f of readdirSync(dir).sort()) {
    if (f === 'ip6tables-save.txt') out[f] = parseNatCatalog(text(f));
    // Which endpoint's list the clients land in is the rules' random pick, so the list's name is left out.
    else if (f.startsWith('xt_recent-')) out.xt_recent = parseRecentList(text(f)).map((e) => e.client);
    else if (f.endsWith('-sets.json'))
      out[f] = [...parseNftSets(text(f))].map(([name, s]) => [name, s.size, [...s.clients].sort()]);
    else if (f.endsWith('.json')) out[f] = parseNftCatalog(text(f));
  }
  return out;
}

test('the IPv6 fixtures are what ip6tables and nft make of kube-proxy-shaped rules today', (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  const update = process.env.STICKYSCOPE_UPDATE_FIXTURES === '1';
  const dir = update ? committed : mkdtempSync(join(tmpdir(), `${prefix}-v6-`));
  if (!update) t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A new run may name another endpoint's list: the old one would be left beside it.
  if (update) for (const f of readdirSync(dir)) if (f.startsWith('xt_recent-')) rmSync(join(dir, f));
  makeV6Fixtures(dir, prefix);
  assert.ok(!netnsNames().some((n) => n.startsWith(prefix)), 'the namespace is gone');
  assert.deepEqual(readAll(dir), readAll(committed));
});
