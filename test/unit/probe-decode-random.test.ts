// The decoder's text (addresses, conntrack ids) on random IPv4 records against formatting done here the plain way:
// dotted quads of every byte value, ports 0-65535, ids as 64-bit hex; repeating Services and backends among unique
// clients (the decoder caches repeating addresses, so a stale or colliding cache entry shows up as a wrong address).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordDecoder } from '../../src/probe/decode-records.js';
import { AF_INET, Off, RECORD_SIZE, RECORD_VERSION, RecordType } from '../../src/probe/record-layout.js';
import type { FlowEvent } from '../../src/core/event.js';

let seed = 0xdec0de;
const rand = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const int = (n: number): number => Math.floor(rand() * n);

interface Addr {
  ip: number[];
  port: number;
}
const text = (a: Addr): string => `${a.ip.join('.')}:${a.port}`;
const randomAddr = (): Addr => ({
  ip: [int(256), int(256), int(256), int(256)],
  port: rand() < 0.1 ? int(10) : int(65536),
});

function put(b: Buffer, o: number, a: Addr): void {
  b.set(a.ip, o);
  b.writeUInt16BE(a.port, o + 16);
}

test('random IPv4 flow records decode to the addresses and ids written', () => {
  // Addresses that differ only in the port, or only in the address, as Services and backends do.
  const serviceIps = Array.from({ length: 20 }, () => randomAddr().ip);
  const services = serviceIps.flatMap((ip) =>
    Array.from({ length: 200 }, (_, i) => ({ ip, port: i < 100 ? i : int(65536) })),
  );
  const backends = Array.from({ length: 3000 }, () => ({ ip: randomAddr().ip, port: [80, 8080, 53][int(3)]! }));
  const n = 50_000;
  const buf = Buffer.alloc((n + 1) * RECORD_SIZE);
  buf[Off.type] = RecordType.hello;
  buf.writeBigUInt64LE(BigInt(RECORD_VERSION), Off.value + 16);
  const expected: { client: string; service: string; backend: string; snat: string; ctId: string }[] = [];
  for (let i = 0; i < n; i++) {
    const o = (i + 1) * RECORD_SIZE;
    const [client, service, backend, snat] = [
      randomAddr(),
      services[int(services.length)]!,
      backends[int(backends.length)]!,
      randomAddr(),
    ];
    const id = (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32));
    buf[o + Off.type] = RecordType.snat;
    buf[o + Off.family] = AF_INET;
    buf[o + Off.proto] = 17;
    buf.writeBigUInt64LE(id, o + Off.ctId);
    put(buf, o + Off.origSrc, client);
    put(buf, o + Off.origDst, service);
    put(buf, o + Off.replySrc, backend);
    put(buf, o + Off.replyDst, snat);
    expected.push({
      client: text(client),
      service: text(service),
      backend: text(backend),
      snat: text(snat),
      ctId: id.toString(16).padStart(16, '0'),
    });
  }
  // Chunks of odd sizes, as a pipe delivers them.
  const decoder = new RecordDecoder('n1');
  const got: FlowEvent[] = [];
  for (let at = 0; at < buf.length; ) {
    const len = 1 + int(RECORD_SIZE * 40);
    got.push(...(decoder.decode(buf.subarray(at, at + len)) as FlowEvent[]));
    at += len;
  }
  assert.equal(got.length, n);
  for (let i = 0; i < n; i++) {
    const e = got[i]! as FlowEvent & { snat: string };
    assert.deepEqual(
      { client: e.client, service: e.service, backend: e.backend, snat: e.snat, ctId: e.ctId },
      expected[i],
      `record ${i}`,
    );
  }
});
