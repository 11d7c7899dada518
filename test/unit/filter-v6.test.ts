// Subscribe filters with IPv6: addresses as "[v6]:port" (with or without the protocol), clients as a bare address,
// "[v6]" or "[v6]:port", in any spelling of the address; checked against flows as the probe writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, FilterError, validateFilter } from '../../src/protocol/event-filter.js';
import type { DnatEvent, EvictedEvent } from '../../src/core/event.js';
import type { EventFilter } from '../../src/protocol/wire.js';

const flow = (client: string, service: string, proto: DnatEvent['proto'] = 'tcp'): DnatEvent => ({
  type: 'dnat',
  ts: 1_795_435_865_000_000,
  node: 'n1',
  proto,
  client,
  service,
  backend: '[fd00:1:1::2]:8080',
  hook: 'prerouting',
  ctId: '1',
  serviceName: 'lab/web:http',
});

test('IPv6 entries are accepted in every documented shape, malformed ones refused by name', () => {
  const ok = validateFilter({
    services: ['[fd00:96::10]:80', '[fd00:96::10]:80/udp', '[FD00:96:0::10]:80/tcp'],
    clients: ['fd00:0:1::2', '[fd00:0:1::2]', '[fd00:0:1::2]:40000'],
  });
  assert.equal(ok.services.length, 3);
  for (const [f, field] of [
    [{ services: ['[fd00::zz]:80'] }, 'services[0]'],
    [{ services: ['[10.96.0.10]:80'] }, 'services[0]'],
    [{ services: ['[fd00::10]:70000'] }, 'services[0]'],
    [{ services: ['fd00::10]:80'] }, 'services[0]'],
    [{ clients: ['10.0.0.1', '[fd00::1'] }, 'clients[1]'],
    [{ clients: ['[10.0.0.1]'] }, 'clients[0]'],
  ] as [EventFilter, string][]) {
    assert.throws(
      () => validateFilter(f),
      (e: Error) => e instanceof FilterError && e.field === field,
      JSON.stringify(f),
    );
  }
});

test('IPv6 filters select IPv6 flows, whatever the spelling of the address', () => {
  const v6 = flow('[fd00:0:1::2]:40000', '[fd00:96::10]:80');
  const other = flow('[fd00:0:2::2]:40001', '[fd00:96::11]:80');
  const v4 = flow('10.0.1.2:40000', '10.96.0.10:80');
  const byService = compileFilter({ services: ['[FD00:0096:0::10]:80/tcp'] });
  assert.deepEqual([v6, other, v4].map(byService), [true, false, false]);
  assert.equal(compileFilter({ services: ['[fd00:96::10]:80/udp'] })(v6), false, 'the protocol counts');
  assert.equal(compileFilter({ services: ['lab/web'] })(v6), true, 'by name, either family');
  for (const c of ['fd00:0:1::2', '[fd00:0:1::2]', '[fd00:0:1:0:0:0:0:2]:40000', 'FD00:0:1::2']) {
    assert.deepEqual([v6, other, v4].map(compileFilter({ clients: [c] })), [true, false, false], c);
  }
  assert.equal(compileFilter({ clients: ['[fd00:0:1::2]:40001'] })(v6), false, 'another flow of that client');
  // A link-local address with a zone passes the shape check; it must not break the filter (URL refuses zones).
  const zoned = validateFilter({ clients: ['fe80::1%eth0'], services: ['[fe80::1%eth0]:80'] });
  assert.equal(compileFilter(zoned)(v6), false);
  const evicted: EvictedEvent = {
    type: 'evicted',
    ts: 1_795_435_865_000_000,
    node: 'n1',
    list: 'KUBE-SEP-X',
    endpoint: '[fd00:1:1::2]:8080',
    client: 'fd00:0:1::2',
    capacity: 100,
  };
  assert.equal(compileFilter({ clients: ['[fd00:0:1::2]'] })(evicted), true);
  assert.equal(compileFilter({ clients: ['fd00:0:2::2'] })(evicted), false);
});
