// nftables affinity state: the agent's set watcher (clients a full set did not pin, fill per set) on `nft -j list
// sets` output shaped as nft 1.0.6 prints it, and the aggregator counting the violation such a client makes as
// `setFull`, whether the agent's report comes before or after it. Expected values worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AffinitySetsEvent, CatalogEvent, DnatEvent, EvictedEvent, StickyEvent } from '../../src/core/event.js';
import { NftSetWatcher, parseNftSets } from '../../src/agent/nft-sets.js';
import type { RecentList } from '../../src/kube-proxy/iptables-parse.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { eventProblem } from '../../src/protocol/validate.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const S = 1e6;
const SVC = '10.96.0.11:80';
const [A, B] = ['10.1.1.2:8080', '10.1.2.2:8080'];
const SET_A = 'affinity-AAAAAAAA-lab/sticky/tcp/http__10.1.1.2/8080';
const SET_B = 'affinity-BBBBBBBB-lab/sticky/tcp/http__10.1.2.2/8080';

/** `nft -j list sets` with the given clients in each set (size 2). */
function listing(sets: Record<string, string[]>): string {
  const items = Object.entries(sets).map(([name, clients], i) => ({
    set: {
      family: 'ip',
      name,
      table: 'kube-proxy',
      type: 'ipv4_addr',
      handle: i + 4,
      size: 2,
      flags: ['timeout'],
      timeout: 10,
      ...(clients.length ? { elem: clients.map((c) => ({ elem: { val: c, expires: 9 } })) } : {}),
    },
  }));
  return JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }, ...items] });
}

const lists = new Map<string, RecentList>([
  [SET_A, { endpoint: A, service: `${SVC}/tcp`, timeoutSeconds: 10, size: 2 }],
  [SET_B, { endpoint: B, service: `${SVC}/tcp`, timeoutSeconds: 10, size: 2 }],
]);

const dnat = (ts: number, client: string, backend: string): DnatEvent =>
  dnatEvent({ ts, client: `${client}:40000`, service: SVC, backend });

test('parseNftSets reads sizes and elements, with and without timeouts', () => {
  const sets = parseNftSets(listing({ [SET_A]: ['10.0.0.1', '10.0.0.2'], [SET_B]: [] }));
  assert.deepEqual([...sets.get(SET_A)!.clients], ['10.0.0.1', '10.0.0.2']);
  assert.equal(sets.get(SET_A)!.size, 2);
  assert.equal(sets.get(SET_B)!.clients.size, 0);
  assert.throws(() => parseNftSets('{"nftables": [{"set"'), /not JSON/);
});

test('a client not in the full set it was sent to is reported setFull; fill is sent when it changes', async () => {
  let now = T0 / 1000 + 5000;
  let text = listing({ [SET_A]: ['10.0.0.1', '10.0.0.2'], [SET_B]: ['10.0.0.4'] });
  const out: StickyEvent[] = [];
  const w = new NftSetWatcher({
    node: 'n1',
    read: async () => text,
    lists: () => lists,
    emit: (events) => out.push(...events),
    nowMs: () => now,
  });
  // 10.0.0.3 went to A (full, not in it); 10.0.0.1 went to A (in it); 10.0.0.5 went to B (not full, not in it:
  // not a setFull); a selection after the read began waits for the next read.
  w.observe([
    dnat(T0 + 1 * S, '10.0.0.3', A),
    dnat(T0 + 1 * S, '10.0.0.1', A),
    dnat(T0 + 1 * S, '10.0.0.5', B),
    dnat(T0 + 1 * S, '10.0.0.3', A),
    dnat(now * 1000 + 1, '10.0.0.6', A),
  ]);
  await w.poll();
  const evicted = out.filter((e): e is EvictedEvent => e.type === 'evicted');
  assert.deepEqual(
    evicted.map((e) => [e.client, e.list, e.endpoint, e.capacity, e.cause, e.since]),
    [['10.0.0.3', SET_A, A, 2, 'setFull', T0 + 1 * S]],
    'one report per client and set',
  );
  const fills = () => out.filter((e): e is AffinitySetsEvent => e.type === 'affinitySets');
  assert.deepEqual(
    fills()[0]!.sets.map((s) => `${s.endpoint} ${s.elements}/${s.size}`),
    [`${A} 2/2`, `${B} 1/2`],
  );
  out.length = 0;
  now += 250;
  await w.poll();
  assert.deepEqual(
    out.map((e) => (e.type === 'evicted' ? e.client : e.type)),
    ['10.0.0.6'],
    'the later selection, checked now; fill unchanged: not sent again',
  );
  out.length = 0;
  // Past its timeout a missing client is no longer news.
  w.observe([dnat(T0 + 2 * S, '10.0.0.7', A)]);
  now = T0 / 1000 + 2000 + 10_000;
  text = listing({ [SET_A]: ['10.0.0.1', '10.0.0.2'], [SET_B]: [] });
  await w.poll();
  assert.deepEqual(
    out.map((e) => e.type),
    ['affinitySets'],
  );
});

const catalog: CatalogEvent = {
  type: 'catalog',
  ts: T0,
  node: 'n1',
  proxyMode: 'nftables',
  services: [
    {
      service: `${SVC}/tcp`,
      name: 'lab/sticky:http',
      affinity: { mode: 'ClientIP', timeoutSeconds: 10, source: 'rules' },
      endpoints: [A, B],
    },
  ],
};
const setFull = (since: number, ts: number, client: string): EvictedEvent => ({
  type: 'evicted',
  ts,
  since,
  node: 'n1',
  list: SET_A,
  endpoint: A,
  client,
  capacity: 2,
  cause: 'setFull',
});

test('the violation after an unpinned pick counts setFull, reported before or after it', () => {
  const state = createState({ windowSeconds: 3600, causeHorizonSeconds: 2 });
  applyEvents(state, [
    catalog,
    // Reported before the violation.
    dnat(T0 + 1 * S, '10.0.0.3', A),
    setFull(T0 + 1 * S, T0 + 1.2 * S, '10.0.0.3'),
    dnat(T0 + 1.5 * S, '10.0.0.3', B),
    // Reported after it (the re-pick came within the agent's read interval).
    dnat(T0 + 3 * S, '10.0.0.4', A),
    dnat(T0 + 3.1 * S, '10.0.0.4', B),
    setFull(T0 + 3 * S, T0 + 3.2 * S, '10.0.0.4'),
    // A violation no report explains.
    dnat(T0 + 4 * S, '10.0.0.5', A),
    dnat(T0 + 4.5 * S, '10.0.0.5', B),
    {
      type: 'affinitySets',
      ts: T0 + 5 * S,
      node: 'n1',
      sets: [{ set: SET_A, service: `${SVC}/tcp`, endpoint: A, elements: 2, size: 2 }],
    },
    dnat(T0 + 9 * S, '10.0.0.9', B),
  ]);
  const s = buildReport(state, { scope: 'cumulative' }).services[0]!;
  assert.equal(s.affinityVerdicts.violation, 3);
  assert.deepEqual(s.affinityVerdicts.violationCauses, { listFull: 0, setFull: 2, crossFrontend: 0, unknown: 1 });
  assert.deepEqual(s.affinitySets, [{ node: 'n1', endpoint: A, elements: 2, size: 2, fill: 1, peakElements: 2 }]);
});

test('events of nftables mode pass the entry check; a cause or set of the wrong shape does not', () => {
  const now = T0 + 10 * S;
  const sets: AffinitySetsEvent = {
    type: 'affinitySets',
    ts: T0,
    node: 'n1',
    sets: [{ set: SET_A, service: `${SVC}/tcp`, endpoint: A, elements: 2, size: 2 }],
  };
  assert.equal(eventProblem(sets, now), null);
  assert.equal(eventProblem(setFull(T0, T0 + 1, '10.0.0.3'), now), null);
  assert.equal(eventProblem(catalog, now), null);
  assert.match(eventProblem({ ...setFull(T0, T0 + 1, '10.0.0.3'), cause: 'other' }, now)!.detail, /cause/);
  const bad = { ...sets, sets: [{ ...sets.sets[0]!, endpoint: 'b1' }] };
  assert.equal(eventProblem(bad, now)!.field, 'sets[0].endpoint');
  assert.equal(eventProblem({ ...catalog, proxyMode: 'ipvs' }, now)!.field, 'proxyMode');
});

test('a pick into a set with room left waits for no read; picks since the last read, and during it, use the room up', async () => {
  let text = listing({ [SET_A]: [], [SET_B]: [] });
  let during: DnatEvent[] = [];
  const w: NftSetWatcher = new NftSetWatcher({
    node: 'n1',
    read: async () => {
      w.observe(during);
      return text;
    },
    lists: () => lists,
    emit: () => {},
    nowMs: () => T0 / 1000 + 5000,
  });
  w.observe([dnat(T0 + 1 * S, '10.0.0.1', A)]);
  assert.equal(w.waiting, 1, 'a set never read: its pick waits for a read');
  await w.poll();
  assert.equal(w.waiting, 0);
  w.observe([dnat(T0 + 2 * S, '10.0.0.2', B)]);
  assert.equal(w.waiting, 0, 'B had room for two: no read needed');
  w.observe([dnat(T0 + 2 * S, '10.0.0.3', B)]);
  assert.equal(w.waiting, 1, 'the second pick uses the room up: it waits');
  // A pick into A while the next read runs passes on the old room's word, and counts against the new one.
  during = [dnat(T0 + 3 * S, '10.0.0.9', A)];
  // The read does not hold it yet (nor 10.0.0.1, whose element expired): A shows two free places.
  text = listing({ [SET_A]: [], [SET_B]: ['10.0.0.2', '10.0.0.3'] });
  await w.poll();
  during = [];
  assert.equal(w.waiting, 0);
  w.observe([dnat(T0 + 4 * S, '10.0.0.4', A)]);
  assert.equal(
    w.waiting,
    1,
    "of A's two free places, the pick made during the read took one: the next uses the room up",
  );
});
