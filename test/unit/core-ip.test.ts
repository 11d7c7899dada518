// canonicalIp against the probe's own IPv6 printer (decode-records.ts): whatever spelling a tool or a person uses
// (xt_recent's full groups, capitals, leading zeros, "::" anywhere valid, dotted IPv4-mapped tails), the address must
// come out as the probe writes the same 16 bytes, or a list's client never matches a flow's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, canonicalIp } from '../../src/core/ip.js';
import { RecordDecoder } from '../../src/probe/decode-records.js';
import { AF_INET6, Off, RECORD_SIZE, RECORD_VERSION, RecordType } from '../../src/probe/record-layout.js';
import type { FlowEvent } from '../../src/core/event.js';

let seed = 0x5952;
const rand = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const int = (n: number): number => Math.floor(rand() * n);

/** 8 groups, zero runs likely (where RFC 5952's choices lie). */
const randomGroups = (): number[] =>
  Array.from({ length: 8 }, () => (rand() < 0.5 ? 0 : int(rand() < 0.5 ? 16 : 65536)));

/** The same address as someone might write it: padded or not, either case, "::" on some zero run. */
function spelled(g: number[]): string {
  const parts = g.map((x) => {
    const h = x.toString(16).padStart(rand() < 0.5 ? 4 : 1, '0');
    return rand() < 0.5 ? h.toUpperCase() : h;
  });
  const zeros = g.flatMap((x, i) => (x === 0 ? [i] : []));
  if (zeros.length === 0 || rand() < 0.3) return parts.join(':');
  const at = zeros[int(zeros.length)]!;
  let end = at;
  while (end + 1 < 8 && g[end + 1] === 0 && rand() < 0.8) end++;
  return `${parts.slice(0, at).join(':')}::${parts.slice(end + 1).join(':')}`;
}

function probeSpelling(groups: number[][]): string[] {
  const buf = Buffer.alloc((groups.length + 1) * RECORD_SIZE);
  buf[Off.type] = RecordType.hello;
  buf.writeBigUInt64LE(BigInt(RECORD_VERSION), Off.value + 16);
  groups.forEach((g, i) => {
    const o = (i + 1) * RECORD_SIZE;
    buf[o + Off.type] = RecordType.dnat;
    buf[o + Off.family] = AF_INET6;
    buf[o + Off.proto] = 6;
    for (const at of [Off.origSrc, Off.origDst, Off.replySrc]) {
      for (const [k, x] of g.entries()) buf.writeUInt16BE(x, o + at + 2 * k);
      buf.writeUInt16BE(80, o + at + 16);
    }
  });
  const events = new RecordDecoder('n1').decode(buf) as FlowEvent[];
  return events.map((e) => e.client.slice(1, e.client.lastIndexOf(']')));
}

test('any spelling of an IPv6 address comes out as the probe writes it', () => {
  const groups = Array.from({ length: 20_000 }, randomGroups);
  // IPv4-mapped, with the dotted tail ip6tables-save and nft print, and in hex.
  groups.push([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001], [0, 0, 0, 0, 0, 0xffff, 0x0a60, 0x000a]);
  const probe = probeSpelling(groups);
  const mapped: Record<number, string> = {
    [groups.length - 2]: '::ffff:10.0.0.1',
    [groups.length - 1]: '::FFFF:a60:A',
  };
  groups.forEach((g, i) => {
    const s = mapped[i] ?? spelled(g);
    assert.equal(canonicalIp(s), probe[i], `${s} (${g.map((x) => x.toString(16)).join(':')})`);
  });
});

test('IPv4-mapped addresses are printed with their IPv4 part (issue 31: [::ffff:a60:a] read as nothing)', () => {
  assert.equal(canonicalAddress('[::ffff:a60:a]:80'), '[::ffff:10.96.0.10]:80');
  assert.equal(canonicalIp('0:0:0:0:0:ffff:10.96.0.10'), '::ffff:10.96.0.10');
  assert.deepEqual(probeSpelling([[0, 0, 0, 0, 0, 0xffff, 0x0a60, 0x000a]]), ['::ffff:10.96.0.10']);
  // Not mapped: a different sixth group keeps hex.
  assert.equal(canonicalIp('::fffe:a60:a'), '::fffe:a60:a');
});

test('what is not an IPv6 address is left alone; zones and brackets keep their place', () => {
  for (const s of ['10.0.0.1', '10.0.0.1:80', 'x', '', 'fd00::1::2', '[fd00::1']) assert.equal(canonicalAddress(s), s);
  assert.equal(canonicalIp('FE80:0::1%eth0'), 'fe80::1%eth0');
  assert.equal(canonicalAddress('[FD00:0:0::1]:80/tcp'), '[fd00::1]:80/tcp');
  assert.equal(canonicalAddress('[fd00::zz]:80'), '[fd00::zz]:80');
});
