// The nftables fixtures of the unit tests (test/fixtures/nft/), made again from the lab by the real tools in a throwaway
// namespace: today's renderer and nft must still give what the committed dumps give.
// STICKYSCOPE_UPDATE_FIXTURES=1 writes the new dumps over test/fixtures/nft/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNftCatalog } from '../../src/kube-proxy/nft-parse.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { netnsNames } from '../helpers/lab-fixture.js';
import { makeNftLabFixtures, nftLabFixtures } from '../helpers/nft-lab-fixtures.js';

const committed = fileURLToPath(new URL('../../../test/fixtures/nft/', import.meta.url));

/** What the agent reads from each dump (handles and expiry times left out). */
const readAll = (dir: string) =>
  Object.fromEntries(nftLabFixtures.map((f) => [f, parseNftCatalog(readFileSync(join(dir, f), 'utf8'))]));

test('the nftables lab fixtures are what nft makes of the lab tables today', (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  const update = process.env.STICKYSCOPE_UPDATE_FIXTURES === '1';
  const dir = update ? committed : mkdtempSync(join(tmpdir(), `${prefix}-nft-`));
  if (!update) t.after(() => rmSync(dir, { recursive: true, force: true }));
  makeNftLabFixtures(dir, prefix);
  assert.ok(!netnsNames().some((n) => n.startsWith(prefix)), 'the namespace is gone');
  assert.deepEqual(readAll(dir), readAll(committed));
});
